"""An S3-compatible bucket as the backup target (issue 19, ADR 1507).

The backup is made as for the local folder (encrypted, signed, verified in
the backup folder, which stages it), then its encrypted file is streamed to
``s3://bucket/prefix/<file>`` in multipart parts read one at a time from the
file, and its signed manifest is put beside it as ``<file>.manifest.json``;
the local copy is then removed. Only ciphertext and the manifest (counts,
hashes, key versions: no patient data) ever leave the host.

``backup verify`` and ``backup restore-test`` stream both objects back into
a private folder under the backup folder and check them exactly as a local
backup: a changed object fails its manifest's hash, a changed manifest its
signature. Rotation deletes the objects of rotated backups.

boto3 is an optional dependency (the ``s3`` extra). Endpoint and region come
from settings or the environment (SAFEWARD_BACKUP_S3_ENDPOINT_URL,
SAFEWARD_BACKUP_S3_REGION); credentials from boto3's own chain (the
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables, a shared credentials
file, an instance role), never from SafeWard's settings, and never in a
message, log line or audit row. Errors become BackupError with the next step
to take."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safeward.continuity import bundle, conf
from safeward.continuity.bundle import BackupError

SCHEME = "s3://"
DOWNLOADING = "downloading from"


@dataclass(frozen=True)
class Target:
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name


def is_s3(location: str) -> bool:
    return location.startswith(SCHEME)


def parse(location: str) -> Target:
    """`s3://bucket/optional/prefix` -> Target, or BackupError saying what is wrong."""
    if not is_s3(location):
        raise BackupError(f"{location!r} is not a backup target: give s3://bucket/prefix")
    bucket, _slash, prefix = location[len(SCHEME) :].partition("/")
    valid = 3 <= len(bucket) <= 63 and all(c.islower() or c.isdigit() or c in ".-" for c in bucket)
    if not valid:
        raise BackupError(
            f"{bucket!r} is not an S3 bucket name (3 to 63 lower-case letters, digits, dots, hyphens)"
        )
    return Target(bucket=bucket, prefix=prefix.strip("/"))


def client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise BackupError(
            "S3 backup targets need boto3, which is not installed: install SafeWard with its "
            "`s3` extra (pip install 'safeward[s3]'), or back up to the local folder"
        ) from None
    try:
        return boto3.client(
            "s3",
            endpoint_url=conf.backup_s3_endpoint_url() or None,
            region_name=conf.backup_s3_region() or None,
            config=Config(
                connect_timeout=conf.backup_s3_timeout_seconds(),
                read_timeout=conf.backup_s3_timeout_seconds(),
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
    except ValueError:  # botocore's message would quote the URL, user:password@ included
        raise BackupError(
            "SAFEWARD_BACKUP_S3_ENDPOINT_URL is not a usable URL: give e.g. https://minio.example:9000"
        ) from None


def _shown(url: str) -> str:
    """The endpoint as a message may show it: without any user:password@."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _translated(error: Exception, target: Target, doing: str) -> BackupError:
    """A BackupError that says what went wrong and what to do; the exception
    class and the S3 error code only (a message could quote a signature)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    where = f"{doing} {target.url}"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return BackupError(
            f"{where}: no S3 credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or a shared credentials file or an instance role) for the backup user"
        )
    if isinstance(error, EndpointConnectionError | ConnectionError):
        endpoint = _shown(conf.backup_s3_endpoint_url()) or "the default AWS endpoint"
        return BackupError(
            f"{where}: cannot reach {endpoint} ({type(error).__name__}); check "
            "SAFEWARD_BACKUP_S3_ENDPOINT_URL and that this host can reach it"
        )
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in {"NoSuchKey", "404", "NotFound"} and doing == DOWNLOADING:
            return BackupError(f"{where}: the object is missing from the bucket (deleted or never uploaded)")
        if code in {"NoSuchBucket", "404", "NotFound"}:
            return BackupError(
                f"{where}: the bucket {target.bucket} does not exist; create it, or fix "
                "SAFEWARD_BACKUP_TARGET (or --target)"
            )
        if code in {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            return BackupError(
                f"{where}: access denied ({code}); check the backup user's credentials and that its "
                "policy allows s3:ListBucket, s3:PutObject, s3:GetObject and s3:DeleteObject on the prefix"
            )
        return BackupError(f"{where}: the S3 service answered {code or 'an error'}")
    return BackupError(f"{where}: {type(error).__name__}")


@contextlib.contextmanager
def _errors(target: Target, doing: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise _translated(error, target, doing) from None


def check(s3: Any, target: Target) -> None:
    """Fail before the dump when the bucket is missing, forbidden or unreachable."""
    with _errors(target, "checking"):
        s3.head_bucket(Bucket=target.bucket)


def upload(s3: Any, target: Target, path: Path) -> None:
    """Stream the encrypted file in multipart parts (constant memory), then put
    its signed manifest; an interrupted upload is aborted, leaving no part."""
    key = target.key(path.name)
    part_size = conf.backup_s3_part_bytes()
    with _errors(target, "uploading to"):
        upload_id = s3.create_multipart_upload(
            Bucket=target.bucket, Key=key, ContentType="application/octet-stream"
        )["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            with path.open("rb") as handle:
                while chunk := handle.read(part_size):
                    number = len(parts) + 1
                    answer = s3.upload_part(
                        Bucket=target.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            s3.complete_multipart_upload(
                Bucket=target.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(Exception):
                s3.abort_multipart_upload(Bucket=target.bucket, Key=key, UploadId=upload_id)
            raise
        manifest = bundle.manifest_path(path)
        s3.put_object(
            Bucket=target.bucket,
            Key=target.key(manifest.name),
            Body=manifest.read_bytes(),
            ContentType="application/json",
        )


@contextlib.contextmanager
def fetched(s3: Any, target: Target, name: str) -> Iterator[Path]:
    """The backup file `name` and its manifest, streamed from the bucket into
    a private folder (0700, removed afterwards); yields the file's path."""
    folder = conf.backup_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".s3-") as scratch:
        path = Path(scratch) / name
        manifest = bundle.manifest_path(path)
        with _errors(target, DOWNLOADING):
            for local in (path, manifest):
                with local.open("xb") as handle:
                    s3.download_fileobj(target.bucket, target.key(local.name), handle)
        yield path


def delete(s3: Any, target: Target, name: str) -> None:
    """Delete a backup's file and manifest objects (rotation)."""
    keys = [target.key(name), target.key(name + ".manifest.json")]
    with _errors(target, "deleting from"):
        answer = s3.delete_objects(
            Bucket=target.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
        )
    if answer.get("Errors"):
        code = str(answer["Errors"][0].get("Code", ""))
        raise BackupError(f"deleting from {target.url}: the S3 service refused ({code})")

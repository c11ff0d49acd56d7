"""Retention and archive (ADR 0202).

Seals older than the retention cut-off (and already delivered to every SIEM
sink) are written, with their events, to one file, encrypted with
`safeward.crypto.streams` (Tink streaming AEAD, bound to the archive
number), and described by a signed manifest next to it. Then, in one
transaction, the archive row is recorded, the archived events are deleted
(the append-only trigger allows deleting only ids a signed archive holds)
and the archive itself is audited. Seals stay in the database, so the chain
remains whole.

Offline, with nothing but the public key, `archive_verify_offline` checks
the manifest signature, the file's hash and (given the checkpoint file) that
the archive ends at an externally checkpointed seal. `archive_load`
decrypts (it needs the data key), re-verifies every seal and event against
the chain, and writes the events as JSON lines."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q

from safeward import clock
from safeward.audit import chain, conf, signing
from safeward.audit.checkpoints import checkpoints_read
from safeward.audit.export import export_lowest_seal
from safeward.audit.models import AuditArchive, AuditEvent, AuditEventPatient, AuditSeal
from safeward.audit.services import audit_record
from safeward.audit.verification import seal_header_problems
from safeward.audit.vocabulary import Action, PurposeOfUse

if TYPE_CHECKING:
    from safeward.crypto.stores import FileStreamStore

FORMAT = "safeward-audit-archive-1"


@dataclass(frozen=True)
class ArchivePlan:
    number: int
    first_seal: int
    last_seal: int
    event_count: int
    max_event_id: int
    file_name: str


ARCHIVE_AD_PREFIX = b"safeward.audit.archive|"


def _associated_data(number: int) -> bytes:
    return ARCHIVE_AD_PREFIX + str(number).encode("ascii")


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    signed = {key: value for key, value in manifest.items() if key not in {"key_id", "signature"}}
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _seal_record(seal: AuditSeal) -> dict[str, Any]:
    return {
        "number": seal.number,
        "sealed_at": chain.format_time(seal.sealed_at),
        "watermark": seal.watermark,
        "event_count": seal.event_count,
        "first_event_id": seal.first_event_id,
        "last_event_id": seal.last_event_id,
        "ranges": seal.ranges,
        "pending": seal.pending,
        "abandoned": seal.abandoned,
        "events_digest": seal.events_digest,
        "leaf_tags": base64.b64encode(bytes(seal.leaf_tags)).decode("ascii"),
        "prev_hash": seal.prev_hash,
        "block_hash": seal.block_hash,
        "key_id": seal.key_id,
        "signature": seal.signature,
        "format_version": seal.format_version,
    }


def _seal_from_record(record: dict[str, Any]) -> AuditSeal:
    return AuditSeal(
        **{
            **record,
            "sealed_at": dt.datetime.fromisoformat(record["sealed_at"]),
            "leaf_tags": base64.b64decode(record["leaf_tags"]),
        }
    )


def _ranges_q(ranges: list[list[int]]) -> Q:
    condition = Q()
    for lo, hi in ranges:
        condition |= Q(id__gte=lo, id__lte=hi)
    return condition


def _plan(before: dt.datetime) -> tuple[int, list[AuditSeal]]:
    last = AuditArchive.objects.order_by("-number").first()
    number = last.number + 1 if last else 1
    first_seal = last.last_seal + 1 if last else 1
    delivered = export_lowest_seal()
    candidates = AuditSeal.objects.filter(number__gte=first_seal, sealed_at__lt=before).order_by("number")
    if delivered is not None:
        candidates = candidates.filter(number__lte=delivered)
    seals: list[AuditSeal] = []
    for seal in candidates.iterator(chunk_size=500):
        if seal.number != first_seal + len(seals):
            break
        seals.append(seal)
    return number, seals


def _write_plaintext(handle: IO[bytes], seals: list[AuditSeal], number: int) -> None:
    header = {
        "format": FORMAT,
        "archive": number,
        "first_seal": seals[0].number,
        "last_seal": seals[-1].number,
    }
    handle.write(json.dumps(header, sort_keys=True).encode("utf-8") + b"\n")
    for seal in seals:
        handle.write(json.dumps({"seal": _seal_record(seal)}, sort_keys=True).encode("utf-8") + b"\n")
        condition = _ranges_q(seal.ranges)
        if condition:
            rows = AuditEvent.objects.filter(condition).order_by("id").values_list(*chain.EVENT_COLUMNS)
            for row in rows.iterator(chunk_size=5000):
                handle.write(chain.canonical_event(row) + b"\n")


def audit_archive_create(*, actor: Any, before: dt.datetime, dry_run: bool = False) -> ArchivePlan | None:
    from safeward.crypto import streams

    number, seals = _plan(before)
    if not seals:
        return None
    event_count = sum(seal.event_count for seal in seals)
    max_event_id = max((seal.last_event_id or 0) for seal in seals)
    folder = conf.archive_dir()
    file_name = f"audit-archive-{number:06d}-seals-{seals[0].number}-{seals[-1].number}.swa"
    plan = ArchivePlan(number, seals[0].number, seals[-1].number, event_count, max_event_id, file_name)
    if dry_run:
        return plan
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / file_name
    with tempfile.TemporaryFile() as plaintext:
        _write_plaintext(plaintext, seals, number)
        plaintext.seek(0)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as encrypted:
            streams.encrypt_stream(plaintext, encrypted, associated_data=_associated_data(number))
            encrypted.flush()
            os.fsync(encrypted.fileno())
    file_sha256 = hashlib.sha256(target.read_bytes()).hexdigest()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "archive": number,
        "first_seal": plan.first_seal,
        "last_seal": plan.last_seal,
        "first_prev_hash": seals[0].prev_hash,
        "last_block_hash": seals[-1].block_hash,
        "event_count": event_count,
        "max_event_id": max_event_id,
        "period_end": chain.format_time(before),
        "created_at": chain.format_time(clock.now()),
        "file_name": file_name,
        "file_sha256": file_sha256,
    }
    _sign_manifest(manifest)
    key_id = manifest["key_id"]
    _write_manifest(folder / f"{file_name}.manifest.json", manifest)
    with transaction.atomic():
        AuditArchive.objects.create(
            number=number,
            created_at=dt.datetime.fromisoformat(manifest["created_at"]),
            first_seal=plan.first_seal,
            last_seal=plan.last_seal,
            max_event_id=max_event_id,
            event_count=event_count,
            period_end=before,
            file_name=file_name,
            file_sha256=file_sha256,
            key_id=key_id,
            signature=manifest["signature"],
        )
        for seal in seals:
            condition = _ranges_q(seal.ranges)
            if condition:
                # The patient index goes with its events (its rows are
                # rebuilt from the sealed `detail` when an archive is loaded).
                for lo, hi in seal.ranges:
                    AuditEventPatient.objects.filter(event_id__gte=lo, event_id__lte=hi).delete()
                AuditEvent.objects.filter(condition).delete()
        audit_record(
            action=Action.AUDIT_ARCHIVE,
            actor=actor,
            resource_type="AuditArchive",
            resource_id=number,
            purpose=PurposeOfUse.OPERATIONS,
            detail={"first_seal": plan.first_seal, "last_seal": plan.last_seal, "events": event_count},
        )
    return plan


def _sign_manifest(manifest: dict[str, Any]) -> None:
    key_id, signature = signing.get_signer().sign(hashlib.sha256(_manifest_bytes(manifest)).digest())
    manifest["key_id"], manifest["signature"] = key_id, base64.b64encode(signature).decode("ascii")


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Written whole under another name, then renamed: never half a manifest."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _archive_number(path: Path) -> int:
    return int(path.name.split("-")[2])  # audit-archive-<number>-seals-<first>-<last>.swa


def _replace_reencrypted(new: Path, target: Path) -> None:
    """Key rotation moved an archive to the primary data key: the manifest
    names the new file's hash (and the previous one) and is signed again,
    then the file is renamed into place. Manifest first: if the process dies
    in between, the file is still under the old key and the next
    `safeward keys reencrypt` does both again."""
    manifest_path = target.with_name(target.name + ".manifest.json")
    manifest = _manifest(target)
    manifest["reencrypted"] = [
        *manifest.get("reencrypted", []),
        {"at": chain.format_time(clock.now()), "previous_file_sha256": manifest["file_sha256"]},
    ]
    manifest["file_sha256"] = _sha256_file(new)
    _sign_manifest(manifest)
    _write_manifest(manifest_path, manifest)
    new.replace(target)


def archive_files_store() -> FileStreamStore:
    """The encrypted archive files, registered with the crypto app (audit's
    AppConfig.ready) so key rotation moves them and retirement counts them."""
    from safeward.crypto.phi import PhiCategory
    from safeward.crypto.stores import FileStreamStore

    return FileStreamStore(
        label="audit archives",
        directory=conf.archive_dir,
        pattern="audit-archive-*.swa",
        associated_data=lambda path: _associated_data(_archive_number(path)),
        stream_prefixes=(ARCHIVE_AD_PREFIX,),
        writers=(__name__,),
        replace=_replace_reencrypted,
        # Archived events name patients by id and what was read, never the values.
        phi_categories=(PhiCategory.ACCESS_RECORD,),
    )


def _manifest(path: Path) -> dict[str, Any]:
    manifest_path = path.with_name(path.name + ".manifest.json")
    loaded: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    return loaded


def archive_verify_offline(
    *, path: Path, verifier: signing.SealSigner, checkpoint_path: Path | None = None
) -> list[str]:
    """Problems found with the archive file and its manifest (empty: fine).
    Needs only the public key: nothing is decrypted."""
    problems: list[str] = []
    try:
        manifest = _manifest(path)
    except (OSError, ValueError):
        return ["the manifest next to the archive is missing or unreadable"]
    try:
        signature = base64.b64decode(manifest.get("signature", ""), validate=True)
    except ValueError:
        signature = b""
    digest = hashlib.sha256(_manifest_bytes(manifest)).digest()
    if not verifier.verify(str(manifest.get("key_id", "")), digest, signature):
        problems.append("the manifest signature does not verify with the given public key")
    if hashlib.sha256(path.read_bytes()).hexdigest() != manifest.get("file_sha256"):
        problems.append("the archive file does not match the hash in its manifest (changed or truncated)")
    if checkpoint_path is not None:
        checkpoints = {item.seal: item for item in checkpoints_read(path=checkpoint_path)}
        last = checkpoints.get(int(manifest.get("last_seal", 0)))
        if last is None:
            problems.append(f"seal {manifest.get('last_seal')} has no external checkpoint")
        elif last.block_hash != manifest.get("last_block_hash"):
            problems.append(f"seal {manifest.get('last_seal')} disagrees with the external checkpoint")
    return problems


class ArchiveError(ValueError):
    pass


def archive_load(*, path: Path, output: Path, verifier: signing.SealSigner | None = None) -> int:
    """Decrypt an archive, verify every seal and event in it against the
    chain, and write the events as JSON lines to `output`. Returns the number
    of events; raises ArchiveError naming the first bad seal or sequence number."""
    from safeward.crypto import streams

    manifest = _manifest(path)
    verifier = verifier or signing.get_signer()
    with tempfile.TemporaryFile() as plaintext:
        with path.open("rb") as encrypted:
            streams.decrypt_stream(
                encrypted, plaintext, associated_data=_associated_data(int(manifest["archive"]))
            )
        plaintext.seek(0)
        header = json.loads(plaintext.readline())
        if header.get("format") != FORMAT:
            raise ArchiveError("not a SafeWard audit archive")
        previous_hash = str(manifest["first_prev_hash"])
        seal: AuditSeal | None = None
        hashes: list[bytes] = []
        written = 0

        def close_seal() -> None:
            if seal is not None and chain.events_digest(hashes) != seal.events_digest:
                raise ArchiveError(f"seal {seal.number}: the events do not match the seal")

        with output.open("w", encoding="utf-8") as out:
            for line in plaintext:
                if line.startswith(b"{"):
                    close_seal()
                    seal = _seal_from_record(json.loads(line)["seal"])
                    problems = seal_header_problems(
                        seal, previous_hash=previous_hash, expected_number=seal.number, verifier=verifier
                    )
                    if problems:
                        raise ArchiveError(f"seal {seal.number}: {problems[0]}")
                    previous_hash, hashes = seal.block_hash, []
                    continue
                if seal is None:
                    raise ArchiveError("an event comes before its seal")
                # Each event is kept as its format 1 JSON (readable); a later
                # format is hashed over the same values re-encoded.
                canonical = line.rstrip(b"\n")
                values = json.loads(canonical)
                if seal.format_version != 1:
                    canonical = chain.canonical_event_as(seal.format_version, values)
                digest = chain.event_hash(canonical)
                position = len(hashes)
                tag = bytes(seal.leaf_tags)[position * chain.TAG_BYTES : (position + 1) * chain.TAG_BYTES]
                if digest[: chain.TAG_BYTES] != tag:
                    raise ArchiveError(f"sequence {values[0]}: event differs from its sealed hash")
                hashes.append(digest)
                out.write(json.dumps(chain.event_columns(values)) + "\n")
                written += 1
            close_seal()
        if previous_hash != manifest["last_block_hash"]:
            raise ArchiveError("the archive does not end at the seal its manifest names")
    return written

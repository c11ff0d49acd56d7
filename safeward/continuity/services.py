"""Writes of the continuity app: backups (create, rotate, restore test) and
declared downtime. Each takes `actor` and records its audit event in the
same transaction as its row."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.core.cache import cache
from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.clinical.types import SessionContext
from safeward.continuity import bundle, conf, engine, s3, schedule
from safeward.continuity.bundle import BackupError
from safeward.continuity.models import (
    Backup,
    Downtime,
    DowntimeNumberRange,
    Kit,
    KitUnit,
    PaperEntry,
    RestoreTest,
    ScheduledRun,
)
from safeward.continuity.selectors import DOWNTIME_CACHE_KEY, schedule_states
from safeward.identity.errors import NotPermitted
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents import selectors as incident_selectors
from safeward.incidents.case_services import DrillResult, drill_result_attach

Progress = Callable[[str], object]


def _documents_dir() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "clinical" / "documents"


def _audit(
    action: Action, *, actor: User | None, resource_type: str, resource_id: Any, **detail: Any
) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_username="" if actor else "system",
        resource_type=resource_type,
        resource_id=str(resource_id),
        detail=detail,
    )


def backup_create(
    *, actor: User | None, progress: Progress | None = None, target: str | None = None
) -> Backup:
    """Dump the database (one consistent snapshot), add the document store,
    encrypt it all as one stream, write the signed manifest, verify, upload
    to the S3 target if there is one (`target`, else SAFEWARD_BACKUP_TARGET;
    ADR 1507), rotate."""
    from safeward.audit.selectors import seal_last
    from safeward.crypto.selectors import key_versions

    note = progress or (lambda _message: None)
    location = conf.backup_target() if target is None else target.strip()
    remote = s3.parse(location) if location else None
    started = time.monotonic()
    created_at = clock.now()
    backup_id = uuid.uuid4()
    folder = conf.backup_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"backup-{created_at:%Y%m%dT%H%M%SZ}-{backup_id}.swb"
    path = folder / name
    kind = engine.engine_name()
    documents = sorted(_documents_dir().glob("*.swf")) if _documents_dir().is_dir() else []
    head = seal_last()
    client, uploading = None, False
    try:
        if remote is not None:
            client = s3.client()
            s3.check(client, remote)
        snapshot = engine.pg_snapshot_dump() if kind == "postgresql" else engine.sqlite_snapshot_dump(folder)
        with snapshot as (counts, dump_chunks):
            note(f"dumping {len(counts)} tables, {sum(counts.values())} rows, {len(documents)} documents")
            members: list[bundle.Member] = [("database", dump_chunks)]
            members += [(f"documents/{doc.name}", bundle.file_chunks(doc)) for doc in documents]
            hashes = bundle.write_encrypted(members, path, backup_id=backup_id)
        sha, size = bundle.file_digest(path)
        body = {
            "format": bundle.MANIFEST_FORMAT,
            "backup_id": str(backup_id),
            "file": name,
            "created_at": created_at.isoformat(),
            "engine": kind,
            "sha256": sha,
            "size_bytes": size,
            "tables": counts,
            "members": hashes,
            "keys": [vars(version) for version in key_versions()],
            "audit_head": {"seal": head.number, "watermark": head.watermark} if head else None,
            "encryption": "safeward.crypto.streams SWF1 (AES-256-GCM-HKDF streaming, data key)",
        }
        signed = bundle.sign_manifest(body)
        bundle.write_manifest(path, signed)
        bundle.verify_manifest(path)
        note(f"written {name} ({size} bytes) and its signed manifest")
        if remote is not None:
            uploading = True
            s3.upload(client, remote, path)
            # The bucket holds the backup now; the folder only staged it.
            path.unlink()
            bundle.manifest_path(path).unlink()
            note(f"uploaded to {remote.url}")
    except (BackupError, OSError) as error:
        path.unlink(missing_ok=True)
        bundle.manifest_path(path).unlink(missing_ok=True)
        if uploading and remote is not None:
            with contextlib.suppress(BackupError):
                s3.delete(client, remote, name)  # no half-uploaded backup left behind
        with transaction.atomic():
            failed = Backup.objects.create(
                created_at=created_at,
                created_by=actor,
                engine=kind,
                state=Backup.State.FAILED,
                location=remote.url if remote else "",
                duration_seconds=time.monotonic() - started,
                error=str(error)[:500],
            )
            _audit(
                Action.CREATE, actor=actor, resource_type="continuity.backup", resource_id=failed.pk, ok=False
            )
        raise BackupError(str(error)) from None
    with transaction.atomic():
        backup = Backup.objects.create(
            id=backup_id,
            created_at=created_at,
            created_by=actor,
            engine=kind,
            state=Backup.State.VERIFIED,
            file_name=name,
            location=remote.url if remote else "",
            size_bytes=size,
            sha256=sha,
            duration_seconds=time.monotonic() - started,
            tables=len(counts),
            rows=sum(counts.values()),
            documents=len(documents),
            audit_seal=head.number if head else None,
            signature_key_id=signed["key_id"],
        )
        _audit(
            Action.CREATE,
            actor=actor,
            resource_type="continuity.backup",
            resource_id=backup.pk,
            engine=kind,
            size_bytes=size,
            sha256=sha,
            location=backup.location,
        )
    try:
        backup_rotate(actor=actor, keep=conf.backup_keep())
    except BackupError as error:
        raise BackupError(
            f"backup {name} is written and verified, but rotating older backups failed: {error}"
        ) from None
    return backup


def backup_rotate(*, actor: User | None, keep: int) -> list[Backup]:
    """Delete the files (or S3 objects) of verified backups beyond the newest
    `keep`, wherever each is; their rows stay as history."""
    old = list(Backup.objects.filter(state=Backup.State.VERIFIED).order_by("-created_at")[keep:])
    client = s3.client() if any(s3.is_s3(backup.location) for backup in old) else None
    for backup in old:
        path = conf.backup_dir() / backup.file_name
        with transaction.atomic():
            if s3.is_s3(backup.location):
                s3.delete(client, s3.parse(backup.location), backup.file_name)
            path.unlink(missing_ok=True)
            bundle.manifest_path(path).unlink(missing_ok=True)
            Backup.objects.filter(pk=backup.pk).update(state=Backup.State.ROTATED)
            _audit(
                Action.DELETE,
                actor=actor,
                resource_type="continuity.backup",
                resource_id=backup.pk,
                keep=keep,
            )
    return old


def backup_path(backup: Backup) -> Path:
    return conf.backup_dir() / backup.file_name


@contextlib.contextmanager
def backup_file(backup: Backup) -> Iterator[Path]:
    """The backup's file and its manifest side by side: in the backup folder,
    or streamed from its S3 target into a private folder for the duration."""
    if not s3.is_s3(backup.location):
        yield backup_path(backup)
        return
    with s3.fetched(s3.client(), s3.parse(backup.location), backup.file_name) as path:
        yield path


@contextlib.contextmanager
def _decrypted(path: Path) -> Iterator[IO[bytes]]:
    """The decrypted bundle as a readable stream (a pipe fed by a thread), in
    constant memory; authentication failures surface as BackupError."""
    import os
    import threading

    from safeward.crypto.errors import IntegrityError
    from safeward.crypto.streams import decrypt_stream

    read_end, write_end = os.pipe()
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            with path.open("rb") as source, os.fdopen(write_end, "wb") as sink:
                decrypt_stream(
                    source, sink, associated_data=bundle.associated_data(bundle.backup_id_of(path))
                )
        except (IntegrityError, BrokenPipeError, OSError) as error:
            failure.append(error)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    reader = os.fdopen(read_end, "rb")
    try:
        yield reader
    except BackupError:
        reader.close()
        thread.join()
        if any(not isinstance(error, BrokenPipeError) for error in failure):
            raise BackupError("the backup failed authentication: it was altered or truncated") from None
        raise
    finally:
        reader.close()
        thread.join()
    if any(not isinstance(error, BrokenPipeError) for error in failure):
        raise BackupError("the backup failed authentication: it was altered or truncated")


def backup_verify_file(
    path: Path, *, deep: bool = False, public_key_pem: str | None = None
) -> dict[str, Any]:
    """Offline verification: the manifest's signature and the file's hash; with
    `deep`, also decrypt every member and compare its hash with the manifest."""
    import hashlib

    body = bundle.verify_manifest(path, public_key_pem=public_key_pem)
    if deep:
        seen: dict[str, dict[str, Any]] = {}
        with _decrypted(path) as stream:
            for name, chunks in bundle.iter_members(stream):
                digest, size = hashlib.sha256(), 0
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                seen[name] = {"sha256": digest.hexdigest(), "size": size}
        if seen != body["members"]:
            raise BackupError("the decrypted members do not match the manifest")
    return body


def backup_newest() -> Backup | None:
    return Backup.objects.filter(state=Backup.State.VERIFIED).order_by("-created_at").first()


def backup_restore_test(
    *,
    actor: User | None,
    backup: Backup | None = None,
    sample: int = 20,
    progress: Progress | None = None,
    exercise_id: int | None = None,
) -> RestoreTest:
    """Restore a backup (the newest by default) into a scratch database, check
    the copy in a separate process, drop it, record the result and the time,
    and attach it as drill evidence to exercise `exercise_id`, else to the
    quarter's restore-drill exercise (ADR 1413)."""
    note = progress or (lambda _message: None)
    if exercise_id is not None:
        exercise = incident_selectors.incident_get(incident_id=exercise_id)
        if exercise is None or not exercise.is_exercise or exercise.status == "closed":
            raise BackupError(f"there is no open exercise {exercise_id} to attach the result to")
    backup = backup or backup_newest()
    if backup is None:
        raise BackupError("there is no verified backup to test: run `safeward backup create` first")
    started_at = clock.now()
    started = time.monotonic()
    problems: list[str] = []
    totals = {"tables": 0, "rows": 0, "events": 0, "fields": 0, "values": 0}
    try:
        with backup_file(backup) as path:
            body = bundle.verify_manifest(path)
            note("manifest signature and file hash verified")
            with _decrypted(path) as stream:
                members = bundle.iter_members(stream)
                name, chunks = next(members)
                if name != "database":
                    raise BackupError("the bundle does not start with the database")
                scratch = (
                    engine.pg_scratch(chunks)
                    if body["engine"] == "postgresql"
                    else engine.sqlite_scratch(chunks)
                )
                with scratch as url:
                    for _name, rest in members:
                        for _chunk in rest:
                            pass
                    note("restored into a scratch database; checking the copy")
                    report = engine.run_checks_on(url, sample=sample)
        expected: dict[str, int] = body["tables"]
        for table, count in expected.items():
            if report["counts"].get(table) != count:
                problems.append(f"row count differs in {table}")
        totals["tables"], totals["rows"] = len(expected), sum(expected.values())
        audit = report["audit"]
        totals["events"] = int(audit["events"])
        if not audit["ok"]:
            problems += [f"audit chain: {kind}" for kind in audit["problems"]]
        for field in report["fields"]:
            totals["fields"] += 1
            totals["values"] += int(field["decrypted"])
            if field["decrypted"] != field["sampled"]:
                problems.append(
                    f"{field['label']}: {field['sampled'] - field['decrypted']} values did not decrypt"
                )
        wanted = {key["key_id"] for key in body["keys"]}
        if not wanted <= set(report["keys"]):
            problems.append("the restored keyring lacks key versions named in the manifest")
    except BackupError as error:
        problems.append(str(error))
    with transaction.atomic():
        result = RestoreTest.objects.create(
            backup=backup,
            started_at=started_at,
            duration_seconds=time.monotonic() - started,
            passed=not problems,
            tables_checked=totals["tables"],
            rows_checked=totals["rows"],
            audit_events_verified=totals["events"],
            phi_fields_checked=totals["fields"],
            phi_values_decrypted=totals["values"],
            problems=problems[:50],
            run_by=actor,
        )
        audit_record(
            action=Action.EXECUTE,
            outcome=Outcome.SUCCESS if result.passed else Outcome.ERROR,
            actor=actor,
            actor_username="" if actor else "system",
            resource_type="continuity.restore_test",
            resource_id=str(result.pk),
            detail={"backup": str(backup.pk), "seconds": round(result.duration_seconds, 2)},
        )
        exercise_case = drill_result_attach(
            result=DrillResult(
                source="restore_test",
                ref=str(result.pk),
                at=started_at,
                passed=result.passed,
                seconds=result.duration_seconds,
                summary=f"{result.tables_checked} tables / {result.rows_checked} rows matched, "
                f"{result.audit_events_verified} audit events verified, "
                f"{result.phi_values_decrypted} values decrypted; {len(result.problems)} problem(s)",
            ),
            incident_id=exercise_id,
            actor=actor,
        )
        result.exercise_id = exercise_case.pk
        result.save(update_fields=["exercise_id"])
    return result


# --- downtime ------------------------------------------------------------------------------------
class DowntimeRefused(Exception):
    """The downtime action is not allowed now; the message says why."""


def _forget_downtime() -> None:
    cache.delete(DOWNTIME_CACHE_KEY)


def downtime_declare(*, actor: User, kind: str, reason: str) -> Downtime:
    if kind not in Downtime.Kind.values:
        raise DowntimeRefused("Choose planned or unplanned downtime.")
    if not reason.strip():
        raise DowntimeRefused("Give the reason for the downtime.")
    with transaction.atomic():
        if Downtime.objects.select_for_update().filter(state__in=["pending", "active"]).exists():
            raise DowntimeRefused("A downtime is already declared or waiting for confirmation.")
        now = clock.now()
        unplanned = kind == Downtime.Kind.UNPLANNED
        downtime = Downtime.objects.create(
            kind=kind,
            state=Downtime.State.ACTIVE if unplanned else Downtime.State.PENDING,
            reason=reason.strip()[:300],
            declared_by=actor,
            declared_at=now,
            started_at=now if unplanned else None,
        )
        _audit(
            Action.CREATE,
            actor=actor,
            resource_type="continuity.downtime",
            resource_id=downtime.pk,
            kind=kind,
        )
        transaction.on_commit(_forget_downtime)
    _forget_downtime()
    return downtime


def downtime_confirm(*, actor: User, downtime: Downtime) -> Downtime:
    with transaction.atomic():
        locked = Downtime.objects.select_for_update().get(pk=downtime.pk)
        if locked.state != Downtime.State.PENDING:
            raise DowntimeRefused("Only a downtime waiting for confirmation can be confirmed.")
        if locked.declared_by_id == actor.pk:
            raise DowntimeRefused(
                "A planned downtime is confirmed by a second person, not the one who declared it."
            )
        locked.state, locked.confirmed_by, locked.started_at = Downtime.State.ACTIVE, actor, clock.now()
        locked.save(update_fields=["state", "confirmed_by", "started_at"])
        _audit(
            Action.UPDATE,
            actor=actor,
            resource_type="continuity.downtime",
            resource_id=locked.pk,
            state="active",
        )
        transaction.on_commit(_forget_downtime)
    _forget_downtime()
    return locked


def downtime_end(*, actor: User, downtime: Downtime) -> Downtime:
    with transaction.atomic():
        locked = Downtime.objects.select_for_update().get(pk=downtime.pk)
        if locked.state not in {Downtime.State.PENDING, Downtime.State.ACTIVE}:
            raise DowntimeRefused("This downtime is already over.")
        was_active = locked.state == Downtime.State.ACTIVE
        locked.state = Downtime.State.ENDED if was_active else Downtime.State.CANCELLED
        locked.ended_by, locked.ended_at = actor, clock.now()
        locked.save(update_fields=["state", "ended_by", "ended_at"])
        _audit(
            Action.UPDATE,
            actor=actor,
            resource_type="continuity.downtime",
            resource_id=locked.pk,
            state=locked.state,
        )
        transaction.on_commit(_forget_downtime)
    _forget_downtime()
    return locked


# --- demo ----------------------------------------------------------------------------------------
DEMO_PREFIX = "demo-record-"


def backup_history_seed_demo(*, now: dt.datetime, nights: int = 7) -> int:
    """Demo only (safeward/demo/continuity.py): records of the last `nights`
    nightly backups at 02:00 and a passed restore test of the night before
    last. Records, not files (their names say so); replaced on every run."""
    from django.db import connection

    last = now.astimezone(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    if last > now:
        last -= dt.timedelta(days=1)
    wanted = {last - dt.timedelta(days=night) for night in range(nights)}
    present = set(
        Backup.objects.filter(file_name__startswith=DEMO_PREFIX).values_list("created_at", flat=True)
    )
    has_test = RestoreTest.objects.filter(backup__file_name__startswith=DEMO_PREFIX, passed=True).exists()
    if present == wanted and has_test:
        return nights  # already seeded for these nights: nothing to change (idempotent)
    with transaction.atomic():
        RestoreTest.objects.filter(backup__file_name__startswith=DEMO_PREFIX).delete()
        Backup.objects.filter(file_name__startswith=DEMO_PREFIX).delete()
        backups = [
            Backup.objects.create(
                id=uuid.uuid5(uuid.NAMESPACE_URL, f"safeward-demo-backup-{night}"),
                created_at=last - dt.timedelta(days=night),
                engine=connection.vendor,
                state=Backup.State.VERIFIED,
                file_name=f"{DEMO_PREFIX}{last - dt.timedelta(days=night):%Y%m%d}.swb",
                size_bytes=48_000_000 + night * 120_000,
                sha256=uuid.uuid5(uuid.NAMESPACE_URL, f"sha-{night}").hex * 2,
                duration_seconds=37.5,
                tables=190,
                rows=412_000 - night * 900,
                documents=64,
            )
            for night in range(nights)
        ]
        tested = backups[min(1, nights - 1)]
        restore = RestoreTest.objects.create(
            backup=tested,
            started_at=tested.created_at + dt.timedelta(hours=1),
            duration_seconds=41.2,
            passed=True,
            tables_checked=tested.tables,
            rows_checked=tested.rows,
            audit_events_verified=180_000,
            phi_fields_checked=58,
            phi_values_decrypted=1_160,
        )
        # As a scheduled run would: the result is evidence on the quarter's restore-drill exercise.
        restore.exercise_id = drill_result_attach(
            result=DrillResult(
                source="restore_test",
                ref=str(restore.pk),
                at=restore.started_at,
                passed=True,
                seconds=restore.duration_seconds,
                summary=f"{restore.tables_checked} tables / {restore.rows_checked} rows matched (demo)",
            )
        ).pk
        restore.save(update_fields=["exercise_id"])
        _audit(
            Action.CREATE, actor=None, resource_type="continuity.backup", resource_id="demo", nights=nights
        )
    return nights


# --- downtime kits -------------------------------------------------------------------------------
class KitRefused(Exception):
    """The kit action is not possible; the message says what to do."""


def kit_unit_enrol(*, actor: User | None, ward_code: str, folder: str = "") -> tuple[KitUnit, str]:
    """Make a ward a downtime unit (or give it a new key): returns the unit
    and the PRIVATE keyset for its downtime workstation, which the server
    does not keep (only the public half is stored)."""
    from safeward.clinical import gateway
    from safeward.continuity import kits

    ward = next((w for w in gateway.wards_list() if w.code == ward_code), None)
    if ward is None:
        raise KitRefused(f"No ward has the code {ward_code!r}: see the wards page for the codes.")
    private, public, fingerprint = kits.new_unit_keyset()
    target = folder or str(kits.kit_root() / ward.code)
    with transaction.atomic():
        unit, _created = KitUnit.objects.update_or_create(
            ward_id=ward.id,
            defaults={
                "ward_code": ward.code,
                "ward_name": ward.name,
                "department_id": ward.department_id,
                "folder": target,
                "public_keyset": public,
                "key_fingerprint": fingerprint,
                "created_at": clock.now(),
                "created_by": actor,
            },
        )
        _audit(
            Action.KEY_OPERATION,
            actor=actor,
            resource_type="continuity.kit_unit",
            resource_id=unit.pk,
            ward=ward.code,
            key_fingerprint=fingerprint[:16],
        )
    return unit, private


def kit_generate(*, unit: KitUnit) -> Kit:
    """Write the unit's kit now: read through the gateway as the kit writer
    (one bulk disclosure to the unit, audited there), render, encrypt to the
    unit, write to its folder, record it and its export manifest."""
    from safeward.audit.manifests import ManifestDraft, manifest_write
    from safeward.clinical import gateway
    from safeward.clinical.types import SystemActor
    from safeward.continuity import kits

    try:
        data = gateway.downtime_kit(actor=SystemActor(gateway.KIT_ACTOR), ward_id=unit.ward_id)
    except gateway.NotFound:
        raise KitRefused(f"The ward {unit.ward_code} no longer exists: remove the unit.") from None
    pdf = kits.render_pdf(data)
    sealed = kits.encrypt_kit(
        pdf, public_keyset=unit.public_keyset, header=kits.header_for(data, data.generated_at)
    )
    del pdf
    name = kits.kit_file_name(unit.ward_code)
    kits.write_atomically(Path(unit.folder), name, sealed)
    digest = hashlib.sha256(sealed).hexdigest()
    with transaction.atomic():
        kit = Kit.objects.create(
            unit=unit,
            generated_at=data.generated_at,
            file_name=name,
            sha256=digest,
            size_bytes=len(sealed),
            patients=len(data.patients),
        )
        Kit.objects.filter(unit=unit).exclude(pk=kit.pk).filter(
            generated_at__lt=data.generated_at - dt.timedelta(days=1)
        ).delete()
        manifest_write(
            actor=None,
            draft=ManifestDraft(
                kind="print",
                route="continuity:kits",
                purpose="HOPERAT",
                patient_ids=[p.patient_id for p in data.patients],
                sections=(
                    "demographics",
                    "encounters",
                    "allergies",
                    "medications",
                    "problems",
                    "appointments",
                ),
                detail={"recipient": f"ward:{unit.ward_code}", "encrypted_to": unit.key_fingerprint[:16]},
            ),
            content=sealed,
        )
    return kit


def kits_generate_all(*, on_unit: Callable[[KitUnit], object] | None = None) -> list[Kit]:
    made = []
    for unit in KitUnit.objects.order_by("ward_code"):
        made.append(kit_generate(unit=unit))
        if on_unit is not None:
            on_unit(unit)
    return made


def kit_file_bytes(*, unit: KitUnit, kit: Kit | None) -> bytes:
    """The unit's current kit file, checked against its record."""
    if kit is None:
        raise KitRefused("No kit has been written for this unit yet.")
    path = Path(unit.folder) / kit.file_name
    try:
        data = path.read_bytes()
    except OSError:
        raise KitRefused("The kit file is missing from the unit's folder.") from None
    if hashlib.sha256(data).hexdigest() != kit.sha256:
        raise KitRefused("The kit file does not match its record (it is being rewritten, or was altered).")
    return data


def kit_download_record(*, actor: User, unit: KitUnit) -> None:
    with transaction.atomic():
        _audit(
            Action.EXPORT,
            actor=actor,
            resource_type="continuity.kit",
            resource_id=unit.pk,
            ward=unit.ward_code,
        )


# --- recovery ------------------------------------------------------------------------------------
class RecoveryRefused(Exception):
    """A paper entry or number range is refused; the message says why."""


class VitalsNeedConfirmation(RecoveryRefused):
    """A value outside the usual range: saved once the person confirms it."""


def number_range_assign(*, actor: User | None, unit: KitUnit, prefix: str, count: int) -> DowntimeNumberRange:
    """The next `count` downtime encounter numbers under `prefix` for the unit."""
    import re

    if not re.fullmatch(r"[A-Z](?:[A-Z0-9-]{0,10}[A-Z-])?", prefix):
        raise RecoveryRefused(
            "The prefix is 1 to 12 capital letters, digits or hyphens, from a letter to a letter or hyphen."
        )
    if not 1 <= count <= 10_000:
        raise RecoveryRefused("Assign between 1 and 10,000 numbers at a time.")
    with transaction.atomic():
        last = (
            DowntimeNumberRange.objects.select_for_update()
            .filter(prefix=prefix)
            .order_by("-last")
            .values_list("last", flat=True)
            .first()
        )
        first = (last or 0) + 1
        numbers = DowntimeNumberRange.objects.create(
            unit=unit, prefix=prefix, first=first, last=first + count - 1, created_at=clock.now()
        )
        _audit(
            Action.CREATE,
            actor=actor,
            resource_type="continuity.number_range",
            resource_id=numbers.pk,
            n=count,
        )
    return numbers


def _range_of(encounter_number: str) -> DowntimeNumberRange | None:
    import re

    match = re.fullmatch(r"([A-Z](?:[A-Z0-9-]{0,10}[A-Z-])?)(\d{1,9})", encounter_number)
    if match is None:
        return None
    number = int(match.group(2))
    return DowntimeNumberRange.objects.filter(
        prefix=match.group(1), first__lte=number, last__gte=number
    ).first()


def paper_entry_record(
    *,
    actor: User,
    downtime: Downtime,
    encounter_number: str,
    kind: str,
    occurred_at: dt.datetime,
    performed_by: User,
) -> PaperEntry:
    if downtime.state not in {Downtime.State.ACTIVE, Downtime.State.ENDED} or downtime.started_at is None:
        raise RecoveryRefused("Paper entries belong to a downtime that took place.")
    if kind not in PaperEntry.Kind.values:
        raise RecoveryRefused("Choose what was recorded on paper.")
    if _range_of(encounter_number.strip()) is None:
        raise RecoveryRefused("That is not a pre-assigned downtime encounter number.")
    end = downtime.ended_at or clock.now()
    if not downtime.started_at <= occurred_at <= end:
        raise RecoveryRefused("The original time must fall within the downtime.")
    with transaction.atomic():
        entry = PaperEntry.objects.create(
            downtime=downtime,
            encounter_number=encounter_number.strip(),
            kind=kind,
            occurred_at=occurred_at,
            performed_by=performed_by,
            entered_by=actor,
            entered_at=clock.now(),
        )
        _audit(
            Action.CREATE,
            actor=actor,
            resource_type="continuity.paper_entry",
            resource_id=entry.pk,
            kind=kind,
        )
    return entry


def paper_entry_chart(
    *,
    actor: User,
    session: SessionContext,
    entry: PaperEntry,
    patient_id: str,
    text: str,
    encounter_id: str | None = None,
) -> PaperEntry:
    """Enter a queued paper record into the patient's chart as a late entry
    (ADR 1412): a note through the gateway's `paper_entry_chart`, marked with
    the original time, who did it and the downtime period, then linked here.
    The chart's policy decides; the second person's review follows as before."""
    from safeward.clinical import gateway
    from safeward.clinical.types import Forbidden, InvalidInput, NotFound

    _chartable(actor, entry)
    if entry.kind == PaperEntry.Kind.VITAL_SIGNS:
        raise RecoveryRefused("Vital signs go into the chart as measurements, not as a note.")
    if entry.kind == PaperEntry.Kind.MEDICATION_GIVEN:
        raise RecoveryRefused(
            "Medication given goes into the chart as doses against its orders, not as a note."
        )
    downtime = entry.downtime
    try:
        note = gateway.paper_entry_chart(
            actor=actor,
            session=session,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=patient_id.strip(),
            paper_entry_id=int(entry.pk),
            what=PaperEntry.Kind(entry.kind).label,
            occurred_at=entry.occurred_at,
            performed_by=entry.performed_by.get_full_name() or entry.performed_by.get_username(),
            downtime_started_at=_started(downtime),
            downtime_ended_at=_ended(downtime),
            text=text,
            encounter_id=encounter_id or None,
        )
    except InvalidInput as error:
        raise RecoveryRefused(f"The chart refused it: {error}") from None
    except (Forbidden, NotFound):
        # The same answer for a patient that does not exist and one the person may not write to.
        raise RecoveryRefused("No such patient, or you may not write to this patient's chart.") from None
    return _charted(actor, entry, note_id=str(note.id))


def _started(downtime: Downtime) -> dt.datetime:
    assert downtime.started_at is not None  # _chartable checked it
    return downtime.started_at


def _ended(downtime: Downtime) -> dt.datetime:
    assert downtime.ended_at is not None  # _chartable checked it
    return downtime.ended_at


def _chartable(actor: User, entry: PaperEntry) -> None:
    if not actor.has_perm(Perm.CONTINUITY_KIT_READ):
        raise NotPermitted(f"{Perm.CONTINUITY_KIT_READ} is required")
    downtime = entry.downtime
    if downtime.state != Downtime.State.ENDED or downtime.started_at is None or downtime.ended_at is None:
        raise RecoveryRefused("Paper records go into the chart once the downtime has ended.")
    if entry.state != PaperEntry.State.QUEUED or _in_chart(entry):
        raise RecoveryRefused("This paper record is in the chart already.")


def _in_chart(entry: PaperEntry) -> bool:
    return bool(entry.chart_note_id or entry.chart_observation_ids or entry.chart_administration_ids)


def _charted(
    actor: User,
    entry: PaperEntry,
    *,
    note_id: str = "",
    observation_ids: list[str] | None = None,
    administration_ids: list[str] | None = None,
) -> PaperEntry:
    """Link what the gateway wrote to the queue entry (its own transaction: see ADR 1412)."""
    with transaction.atomic():
        locked = PaperEntry.objects.select_for_update().get(pk=entry.pk)
        if _in_chart(locked):
            raise RecoveryRefused("This paper record was put in the chart by someone else meanwhile.")
        locked.chart_note_id, locked.chart_observation_ids = note_id, observation_ids or []
        locked.chart_administration_ids = administration_ids or []
        locked.charted_by, locked.charted_at = actor, clock.now()
        locked.save(
            update_fields=[
                "chart_note_id",
                "chart_observation_ids",
                "chart_administration_ids",
                "charted_by",
                "charted_at",
            ]
        )
        if note_id:
            what: dict[str, object] = {"chart_note": note_id}
        elif administration_ids:
            what = {"administrations": len(administration_ids)}
        else:
            what = {"observations": len(observation_ids or [])}
        _audit(
            Action.UPDATE,
            actor=actor,
            resource_type="continuity.paper_entry",
            resource_id=locked.pk,
            charted=True,
            **what,
        )
    return locked


def paper_vitals_chart(
    *,
    actor: User,
    session: SessionContext,
    entry: PaperEntry,
    patient_id: str,
    vitals: list[tuple[str, str, str, str]],
    confirmed: bool = False,
    encounter_id: str | None = None,
) -> PaperEntry:
    """Enter a queued paper record of vital signs as structured observations
    taken at the original time (ADR 1415), through the gateway's
    `paper_vitals_chart`: the live chart's unit and range checks, all or none.
    `vitals` are (LOINC code, display, value, UCUM unit)."""
    from safeward.clinical import gateway
    from safeward.clinical.types import Forbidden, InvalidInput, NeedsConfirmation, NotFound

    _chartable(actor, entry)
    if entry.kind != PaperEntry.Kind.VITAL_SIGNS:
        raise RecoveryRefused(
            "Only a paper record of vital signs becomes measurements; enter this one as a note."
        )
    downtime = entry.downtime
    try:
        observations = gateway.paper_vitals_chart(
            actor=actor,
            session=session,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=patient_id.strip(),
            paper_entry_id=int(entry.pk),
            occurred_at=entry.occurred_at,
            downtime_started_at=_started(downtime),
            downtime_ended_at=_ended(downtime),
            vitals=[gateway.PaperVital(code=c, display=d, value=v, unit=u) for c, d, v, u in vitals],
            confirmed=confirmed,
            encounter_id=encounter_id or None,
        )
    except NeedsConfirmation as unusual:
        raise VitalsNeedConfirmation(f"Check the values: {'; '.join(unusual.errors.values())}") from None
    except InvalidInput as error:
        raise RecoveryRefused(f"The chart refused it: {'; '.join(error.errors.values())}") from None
    except (Forbidden, NotFound):
        raise RecoveryRefused("No such patient, or you may not write to this patient's chart.") from None
    return _charted(actor, entry, observation_ids=[str(o.id) for o in observations])


def paper_mar_chart(
    *,
    actor: User,
    session: SessionContext,
    entry: PaperEntry,
    patient_id: str,
    doses: list[tuple[str, str, str, str]],
    encounter_id: str | None = None,
) -> PaperEntry:
    """Enter a queued paper MAR record as administrations given at the
    original time against the patient's active orders (ADR 1419), through the
    gateway's `paper_mar_chart`, all or none. `doses` are (order number,
    dose, UCUM unit, route)."""
    from safeward.clinical import gateway
    from safeward.clinical.types import Forbidden, InvalidInput, NotFound

    _chartable(actor, entry)
    if entry.kind != PaperEntry.Kind.MEDICATION_GIVEN:
        raise RecoveryRefused("Only a paper record of medication given becomes administrations.")
    downtime = entry.downtime
    try:
        given = gateway.paper_mar_chart(
            actor=actor,
            session=session,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=patient_id.strip(),
            paper_entry_id=int(entry.pk),
            occurred_at=entry.occurred_at,
            downtime_started_at=_started(downtime),
            downtime_ended_at=_ended(downtime),
            doses=[gateway.PaperDose(request_id=o, dose=d, dose_unit=u, route=r) for o, d, u, r in doses],
            encounter_id=encounter_id or None,
        )
    except InvalidInput as error:
        raise RecoveryRefused(f"The chart refused it: {'; '.join(error.errors.values())}") from None
    except (Forbidden, NotFound):
        raise RecoveryRefused("No such patient, or you may not write to this patient's chart.") from None
    return _charted(actor, entry, administration_ids=[view.id for view in given])


def paper_entry_verify(
    *, actor: User, entry: PaperEntry, session: SessionContext | None = None
) -> PaperEntry:
    """The second person's check of a back-entered record: never the one who
    queued it nor the one who put it in the chart. Doses from the paper MAR
    are checked once they are in the chart, and the gateway marks them
    verified first (`paper_mar_verify`, ADR 1420: the verifier may record
    doses for the patient; its own transaction, so that a refusal's denied
    event stays, as for charting, ADR 1412); `session` is then required."""

    def second_person(row: PaperEntry) -> None:
        if row.state != PaperEntry.State.QUEUED:
            raise RecoveryRefused("This entry is verified already.")
        if actor.pk in (row.entered_by_id, row.charted_by_id):
            raise RecoveryRefused(
                "A second person verifies a back-entered record, not the one who entered it."
            )

    current = PaperEntry.objects.get(pk=entry.pk)
    second_person(current)
    if current.kind == PaperEntry.Kind.MEDICATION_GIVEN:
        _doses_verify(actor, session, current)
    with transaction.atomic():
        locked = PaperEntry.objects.select_for_update().get(pk=entry.pk)
        second_person(locked)
        locked.state, locked.verified_by, locked.verified_at = PaperEntry.State.VERIFIED, actor, clock.now()
        locked.save(update_fields=["state", "verified_by", "verified_at"])
        _audit(Action.UPDATE, actor=actor, resource_type="continuity.paper_entry", resource_id=locked.pk)
    return locked


def _doses_verify(actor: User, session: SessionContext | None, entry: PaperEntry) -> None:
    from safeward.clinical import gateway
    from safeward.clinical.types import Conflict, Forbidden, InvalidInput, NotFound

    if not entry.chart_administration_ids:
        raise RecoveryRefused("Enter the doses into the chart first; then a second person verifies them.")
    if session is None:
        raise RecoveryRefused("Doses are verified from a signed-in session on a clinical workstation.")
    try:
        gateway.paper_mar_verify(
            actor=actor,
            session=session,
            purpose=PurposeOfUse.TREATMENT,
            paper_entry_id=int(entry.pk),
            administration_ids=[str(i) for i in entry.chart_administration_ids],
        )
    except InvalidInput as error:
        raise RecoveryRefused("; ".join(error.errors.values())) from None
    except Conflict as error:
        raise RecoveryRefused(str(error)) from None
    except (Forbidden, NotFound):
        raise RecoveryRefused(
            "You may not record doses for this patient, so you cannot verify them."
        ) from None


def kits_seed_demo(*, wards: int) -> list[tuple[str, Path]]:
    """Demo only: enrol the first `wards` wards (the workstation keys are
    written under <var>/downtime-keys/, as a ward's workstation would hold
    them) and write a kit for each unit that has none (idempotent)."""
    import os

    from django.conf import settings

    from safeward.clinical import gateway

    made = []
    folder = Path(settings.VAR_DIR) / "downtime-keys"
    for ward in sorted(gateway.wards_list(), key=lambda w: w.code)[:wards]:
        key_path = folder / f"{ward.code}-key.json"
        unit = KitUnit.objects.filter(ward_id=ward.id).first()
        if unit is None or not key_path.exists():
            unit, private = kit_unit_enrol(actor=None, ward_code=ward.code)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(private)
            Kit.objects.filter(unit=unit).delete()
        if not Kit.objects.filter(unit=unit).exists():
            kit_generate(unit=unit)
        made.append((ward.code, key_path))
    return made


# --- the schedule (ADR 1504) ----------------------------------------------------------------
def _run_start(*, actor: User | None, job: schedule.Job) -> ScheduledRun | None:
    """Mark the job running, or None when another process is running it (the
    partial unique constraint decides). A run left `running` for longer than
    SAFEWARD_SCHEDULE_STALE_HOURS is closed as failed first (its process died)."""
    from django.db import IntegrityError

    now = clock.now()
    with transaction.atomic():
        stale = ScheduledRun.objects.select_for_update().filter(
            job=job.code,
            outcome=ScheduledRun.Outcome.RUNNING,
            started_at__lt=now - dt.timedelta(hours=conf.schedule_stale_hours()),
        )
        for run in stale:
            run.outcome, run.finished_at, run.error = ScheduledRun.Outcome.FAILED, now, "Stale"
            run.save(update_fields=["outcome", "finished_at", "error"])
            _audit(
                Action.UPDATE,
                actor=actor,
                resource_type="continuity.scheduled_run",
                resource_id=run.pk,
                job=job.code,
                outcome="failed",
                error="Stale",
            )
    try:
        with transaction.atomic():
            run = ScheduledRun.objects.create(job=job.code, started_at=now)
            _audit(
                Action.EXECUTE,
                actor=actor,
                resource_type="continuity.scheduled_run",
                resource_id=run.pk,
                job=job.code,
            )
    except IntegrityError:
        return None
    return run


def _run_finish(
    *,
    actor: User | None,
    run: ScheduledRun,
    started: float,
    exit_code: int,
    error: str,
    waiting: bool = False,
    note: schedule.Note | None = None,
) -> ScheduledRun:
    with transaction.atomic():
        run.finished_at = clock.now()
        run.duration_seconds = round(time.monotonic() - started, 3)
        run.exit_code = exit_code
        run.error = error[:100]
        run.note = note.text if note is not None else ""
        run.outcome = (
            ScheduledRun.Outcome.WAITING
            if waiting
            else ScheduledRun.Outcome.SUCCEEDED
            if exit_code == 0
            else ScheduledRun.Outcome.FAILED
        )
        run.save(update_fields=["finished_at", "duration_seconds", "exit_code", "error", "outcome", "note"])
        _audit(
            Action.UPDATE,
            actor=actor,
            resource_type="continuity.scheduled_run",
            resource_id=run.pk,
            job=run.job,
            outcome=str(run.outcome),
            exit_status=exit_code,
            seconds=run.duration_seconds,
            **({"note": note.code} if note is not None else {}),
        )
    return run


def _call(argv: tuple[str, ...]) -> None:
    """Run a `safeward` command in this process, its output discarded: the
    run's row says how it ended, the command's own records say what it did."""
    import io

    from django.core.management import call_command

    call_command(*argv, stdout=io.StringIO(), stderr=io.StringIO())


def schedule_run_due(
    *,
    actor: User | None,
    only: list[str] | None = None,
    force: bool = False,
    runner: Callable[[tuple[str, ...]], object] | None = None,
    on_run: Callable[[ScheduledRun], object] | None = None,
) -> list[ScheduledRun]:
    """Run each job that is due (or each of `only`, due or not, with `force`),
    one after another, recording each run's outcome. A job that fails is
    recorded as failed with its exit code and exception class (never its
    message, which may name a patient) and the next job still runs. A job
    whose prerequisite is missing (`schedule.Waiting`) is recorded as
    waiting, with its reason code, and retried like a failure. A job that
    succeeded with something to say (`Job.note`: no file share to scan, a
    share not mounted here) is a success with the note's text on its run and
    its reason code on the closing audit event."""
    from django.core.management.base import CommandError

    if only:
        unknown = sorted(set(only) - set(schedule.BY_CODE))
        if unknown:
            raise ValueError(f"unknown job {', '.join(unknown)}; see `safeward schedule list`")
    run_job = runner or _call
    now = clock.now()
    runs = []
    for state in schedule_states():
        if only and state.job.code not in only:
            continue
        if not (force and only) and not state.due(now):
            continue
        run = _run_start(actor=actor, job=state.job)
        if run is None:
            continue
        started = time.monotonic()
        exit_code, error, waiting = 0, "", False
        try:
            run_job(state.job.argv)
        except KeyboardInterrupt:
            # Stopped mid-job (Ctrl-C, or the demo server stopping its tick,
            # ADR 1654): closed as failed, so the job is retried within the
            # hour instead of held `running` until the row goes stale.
            _run_finish(actor=actor, run=run, started=started, exit_code=130, error="Interrupted")
            raise
        except schedule.Waiting as not_yet:
            exit_code, error, waiting = not_yet.returncode, not_yet.reason, True
        except CommandError as failed:
            exit_code, error = failed.returncode or 1, type(failed).__name__
        except Exception as failed:  # a broken job must not stop the others
            exit_code, error = 1, type(failed).__name__
        note = schedule.job_note(state.job) if exit_code == 0 else None
        runs.append(
            _run_finish(
                actor=actor,
                run=run,
                started=started,
                exit_code=exit_code,
                error=error,
                waiting=waiting,
                note=note,
            )
        )
        if on_run is not None:
            on_run(runs[-1])
    return runs

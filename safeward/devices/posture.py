"""Endpoint and mobile posture: parse MDM / agent exports and import them.

Three formats (ADR 1010):

* **Fleet / osquery JSON** — the body of Fleet's `GET /api/v1/fleet/hosts`
  (`{"hosts": [...]}`) or a bare list of hosts. Fields read: `hardware_serial`,
  `hostname`, `os_version`, `disk_encryption_enabled`, `seen_time`, and the host's
  `policies` (`name`, `response` pass/fail): a failing policy whose name mentions a
  passcode/password sets `passcode_set` false, jailbreak/root sets `jailbroken`.
  Fleet gives no compliance verdict: SafeWard computes it. `mdm.device_status`
  "wiped" confirms a remote wipe (ADR 1017).
* **Microsoft Intune CSV** — the devices report (`DeviceName`, `SerialNumber`, `OS`,
  `OSVersion`, `CompliantState`, `EncryptionStatusString`, `JailBroken`,
  `LastContact`); the verdict is Intune's, SafeWard's own checks can only make it
  worse.
* **Jamf Pro CSV** — an advanced-search export (`Serial Number`, `Asset Tag`,
  `Operating System Version`, `FileVault 2 Status` or `Data Protection`,
  `Passcode Status`, `Jailbreak Detected`, `Last Check-in` or `Last Inventory
  Update`). Jamf gives no verdict.

Intune and Jamf CSVs may carry a `Wipe Status` column (ADR 1017), copied from the
MDM's remote-action report (Intune "Device actions", Jamf "Management History"
EraseDevice): Complete / Completed / Wiped confirms a wipe requested for that
device; Pending or empty does not.

A row matches a device by certificate fingerprint (`Certificate SHA-256` /
`certificate_sha256`, when the export carries one), then asset tag, then serial.
Malformed rows are row errors and nothing is saved (all or nothing). A row naming a
device that is not in the inventory is *reported*, not an error: MDM exports hold
devices the inventory has not caught up with, and one of them must not hold back
the posture of every other device.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from oauth2_provider.models import AccessToken, RefreshToken

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.devices.models import (
    ClientDevice,
    Device,
    DevicePosture,
    DeviceSession,
    PostureReport,
    PostureSource,
    RefreshTokenDevice,
    TokenDevice,
    WipeRequest,
)
from safeward.devices.services import DeviceError, device_lifecycle_set
from safeward.devices.wipes import wipes_confirm_reported
from safeward.identity.models import User

MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
UNMATCHED_SHOWN = 50
_BATCH = 2000
LOST_STATES = frozenset({Device.Lifecycle.LOST, Device.Lifecycle.STOLEN})


class PostureImportError(Exception):
    """The whole import was refused: `errors` names each bad row."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s); nothing was imported.")
        self.errors = errors


@dataclass
class PostureRow:
    line: int
    serial: str = ""
    asset_tag: str = ""
    fingerprint: str = ""
    name: str = ""
    disk_encrypted: bool | None = None
    passcode_set: bool | None = None
    os_version: str = ""
    jailbroken: bool | None = None
    last_check_in: dt.datetime | None = None
    compliant_given: bool | None = None
    wiped: bool = False  # the MDM reports the remote wipe done


@dataclass
class ImportResult:
    import_id: uuid.UUID
    source: str
    rows: int = 0
    imported: int = 0
    compliant: int = 0
    non_compliant: int = 0
    unmatched: list[str] = field(default_factory=list)
    unmatched_count: int = 0
    wipes_confirmed: int = 0


# --- value parsing --------------------------------------------------------------------------------
_TRUE = {"true", "yes", "1", "y", "encrypted", "present", "enabled", "on"}
_FALSE = {"false", "no", "0", "n", "notencrypted", "not encrypted", "not present", "disabled", "off", "none"}
_UNKNOWN = {"", "unknown", "n/a", "na", "-", "null", "not available"}


def _bool(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _UNKNOWN:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{what} must be yes/no/true/false (got {str(value)[:30]!r})")


def _filevault(value: str) -> bool | None:
    """Jamf's FileVault 2 status / Data Protection column."""
    text = value.strip().lower()
    if text in _UNKNOWN:
        return None
    if text in {"all partitions encrypted", "boot partitions encrypted", "encrypted", "protected"}:
        return True
    if text in {"not encrypted", "no partitions encrypted", "not protected", "encrypting", "decrypting"}:
        return False
    return _bool(value, "FileVault 2 Status")


def _intune_encryption(value: str) -> bool | None:
    text = value.strip().lower()
    if text in _UNKNOWN:
        return None
    if text in {"encrypted", "true", "yes"}:
        return True
    if text in {"notencrypted", "not encrypted", "false", "no"}:
        return False
    raise ValueError(f"EncryptionStatusString {value[:30]!r} is not Encrypted/NotEncrypted")


def _intune_compliance(value: str) -> bool | None:
    text = value.strip().lower().replace(" ", "")
    if text in {"compliant"}:
        return True
    if text in {"noncompliant", "ingraceperiod", "error", "conflict"}:
        return False
    if text in {"", "unknown", "notevaluated", "configmanager"}:
        return None
    raise ValueError(f"CompliantState {value[:30]!r} is not one Intune uses")


_WIPED = {"complete", "completed", "wiped", "done"}
_WIPE_PENDING = {"", "pending", "issued", "wipepending", "wipeissued", "wiping", "not now", "notnow"}


def _wipe_status(value: str) -> bool:
    """A `Wipe Status` cell: True when the MDM reports the wipe done."""
    text = value.strip().lower()
    if text in _WIPED:
        return True
    if text in _WIPE_PENDING:
        return False
    raise ValueError(f"Wipe Status {value[:30]!r} is not Complete or Pending")


def _fleet_wiped(host: dict[str, Any]) -> bool:
    mdm = host.get("mdm")
    if mdm is None:
        return False
    if not isinstance(mdm, dict):
        raise ValueError("has an mdm that is not an object")
    return str(mdm.get("device_status") or "").strip().lower() == "wiped"


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M")


def _time(value: Any, what: str) -> dt.datetime | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in _UNKNOWN or text.startswith("0001-01-01"):
        return None
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(f"{what} {text[:40]!r} is not a date and time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _fingerprint(value: Any) -> str:
    text = str(value or "").strip().lower().replace(":", "")
    if not text:
        return ""
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError("the certificate fingerprint is not a SHA-256 in hex")
    return text


def fingerprint_normalise(value: str) -> str:
    """A SHA-256 fingerprint as stored: 64 lower-case hex digits, no colons ('' if invalid)."""
    try:
        return _fingerprint(value)
    except ValueError:
        return ""


# --- formats --------------------------------------------------------------------------------------
def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PostureImportError(["The file is not UTF-8 text."]) from error


def _csv_rows(data: bytes, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(_decode(data)))
    headers = [h.strip() for h in reader.fieldnames or []]
    missing = [h for h in required if h not in headers]
    if missing:
        raise PostureImportError([f"Line 1: missing column(s) {', '.join(missing)}."])
    reader.fieldnames = headers
    for number, row in enumerate(reader, start=2):
        yield number, {k: (v or "").strip() for k, v in row.items() if k is not None}


def parse_intune(data: bytes) -> tuple[list[PostureRow], list[str]]:
    rows: list[PostureRow] = []
    errors: list[str] = []
    for line, raw in _csv_rows(data, ("SerialNumber", "CompliantState", "LastContact")):
        try:
            rows.append(
                PostureRow(
                    line=line,
                    serial=raw.get("SerialNumber", ""),
                    name=raw.get("DeviceName", ""),
                    fingerprint=_fingerprint(raw.get("CertificateSHA256", "")),
                    disk_encrypted=_intune_encryption(raw.get("EncryptionStatusString", "")),
                    jailbroken=_bool(raw.get("JailBroken", ""), "JailBroken"),
                    os_version=" ".join(p for p in (raw.get("OS", ""), raw.get("OSVersion", "")) if p)[:100],
                    last_check_in=_time(raw.get("LastContact"), "LastContact"),
                    compliant_given=_intune_compliance(raw.get("CompliantState", "")),
                    wiped=_wipe_status(raw.get("Wipe Status", raw.get("WipeStatus", ""))),
                )
            )
        except ValueError as error:
            errors.append(f"Line {line}: {error}.")
    return rows, errors


def parse_jamf(data: bytes) -> tuple[list[PostureRow], list[str]]:
    rows: list[PostureRow] = []
    errors: list[str] = []
    for line, raw in _csv_rows(data, ("Serial Number",)):
        try:
            encryption = raw.get("FileVault 2 Status", raw.get("Data Protection", ""))
            check_in = raw.get("Last Check-in") or raw.get("Last Inventory Update") or ""
            if "Last Check-in" not in raw and "Last Inventory Update" not in raw:
                raise ValueError("no Last Check-in column")
            rows.append(
                PostureRow(
                    line=line,
                    serial=raw.get("Serial Number", ""),
                    asset_tag=raw.get("Asset Tag", ""),
                    name=raw.get("Computer Name", raw.get("Display Name", "")),
                    fingerprint=_fingerprint(raw.get("Certificate SHA-256", "")),
                    disk_encrypted=_filevault(encryption),
                    passcode_set=_bool(raw.get("Passcode Status", ""), "Passcode Status"),
                    jailbroken=_bool(raw.get("Jailbreak Detected", ""), "Jailbreak Detected"),
                    os_version=(raw.get("Operating System Version") or raw.get("OS Version") or "")[:100],
                    last_check_in=_time(check_in, "Last Check-in"),
                    wiped=_wipe_status(raw.get("Wipe Status", "")),
                )
            )
        except ValueError as error:
            errors.append(f"Line {line}: {error}.")
    return rows, errors


_PASSCODE_WORDS = ("passcode", "password", "screen lock")
_JAILBREAK_WORDS = ("jailbreak", "jailbroken", "rooted")


def parse_fleet(data: bytes) -> tuple[list[PostureRow], list[str]]:
    try:
        document = json.loads(_decode(data))
    except json.JSONDecodeError as error:
        raise PostureImportError([f"Line {error.lineno}: not valid JSON ({error.msg})."]) from error
    hosts = document.get("hosts") if isinstance(document, dict) else document
    if not isinstance(hosts, list):
        raise PostureImportError(['The JSON has no "hosts" list (Fleet\'s GET /api/v1/fleet/hosts).'])
    rows: list[PostureRow] = []
    errors: list[str] = []
    for index, host in enumerate(hosts, start=1):
        where = f"Host {index}"
        try:
            if not isinstance(host, dict):
                raise ValueError("is not an object")
            passcode: bool | None = None
            jailbroken: bool | None = None
            for policy in host.get("policies") or []:
                if not isinstance(policy, dict):
                    raise ValueError("has a policy that is not an object")
                name = str(policy.get("name", "")).lower()
                response = str(policy.get("response", "")).lower()
                passed = {"pass": True, "fail": False}.get(response)
                if any(word in name for word in _PASSCODE_WORDS) and passed is not None:
                    passcode = passed if passcode is None else (passcode and passed)
                if any(word in name for word in _JAILBREAK_WORDS) and passed is not None:
                    jailbroken = (not passed) if jailbroken is None else (jailbroken or not passed)
            if jailbroken is None and str(host.get("platform", "")).lower() in {
                "darwin",
                "windows",
                "ubuntu",
                "rhel",
                "debian",
                "linux",
            }:
                jailbroken = False  # desktop systems are not jailbroken; a root policy may say otherwise
            rows.append(
                PostureRow(
                    line=index,
                    serial=str(host.get("hardware_serial") or "").strip(),
                    name=str(host.get("hostname") or "").strip(),
                    fingerprint=_fingerprint(host.get("certificate_sha256")),
                    disk_encrypted=_bool(host.get("disk_encryption_enabled"), "disk_encryption_enabled"),
                    passcode_set=passcode,
                    jailbroken=jailbroken,
                    os_version=str(host.get("os_version") or "")[:100],
                    last_check_in=_time(host.get("seen_time"), "seen_time"),
                    wiped=_fleet_wiped(host),
                )
            )
        except ValueError as error:
            errors.append(f"{where}: {error}.")
    return rows, errors


PARSERS = {
    PostureSource.FLEET: parse_fleet,
    PostureSource.INTUNE: parse_intune,
    PostureSource.JAMF: parse_jamf,
}


def source_detect(*, filename: str, data: bytes) -> str:
    """Guess the format of a file (the watched folder): JSON is Fleet; a CSV with
    Intune's `CompliantState` is Intune; one with `Serial Number` is Jamf."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \r\n\t")
    if filename.lower().endswith(".json") or head.startswith((b"{", b"[")):
        return PostureSource.FLEET
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    if "CompliantState" in first:
        return PostureSource.INTUNE
    if "Serial Number" in first:
        return PostureSource.JAMF
    raise PostureImportError(
        ["Line 1: not a Fleet JSON, Intune CSV (CompliantState) or Jamf CSV (Serial Number) export."]
    )


# --- compliance -----------------------------------------------------------------------------------
def check_in_days() -> int:
    return int(getattr(settings, "SAFEWARD_POSTURE_CHECK_IN_DAYS", 7))


def compliance_reasons(row: PostureRow | DevicePosture, *, now: dt.datetime) -> list[str]:
    """Why a posture is not compliant (empty: compliant). The MDM's own verdict,
    when it gives one, can only make it worse; unknown values count against a
    posture only when no verdict was given."""
    given = row.compliant_given if isinstance(row, PostureRow) else None
    reasons: list[str] = []
    if given is False:
        reasons.append("mdm_non_compliant")
    if row.disk_encrypted is False or (row.disk_encrypted is None and given is None):
        reasons.append("disk_not_encrypted" if row.disk_encrypted is False else "encryption_unknown")
    if row.passcode_set is False or (row.passcode_set is None and given is None):
        reasons.append("no_passcode" if row.passcode_set is False else "passcode_unknown")
    if row.jailbroken is True:
        reasons.append("jailbroken")
    if row.last_check_in is None:
        reasons.append("never_checked_in")
    elif now - row.last_check_in > dt.timedelta(days=check_in_days()):
        reasons.append("check_in_stale")
    return reasons


# --- the import -----------------------------------------------------------------------------------
def _index() -> tuple[dict[str, int], dict[str, int], dict[str, list[int]]]:
    by_fp: dict[str, int] = {}
    by_tag: dict[str, int] = {}
    by_serial: dict[str, list[int]] = {}
    for pk, tag, serial, fp in Device.objects.values_list(
        "pk", "asset_tag", "serial", "certificate_fingerprint"
    ).iterator(chunk_size=5000):
        by_tag[tag.lower()] = pk
        if serial:
            by_serial.setdefault(serial.strip().lower(), []).append(pk)
        if fp:
            by_fp[fp.lower()] = pk
    return by_fp, by_tag, by_serial


def _match(
    row: PostureRow, index: tuple[dict[str, int], dict[str, int], dict[str, list[int]]]
) -> tuple[int | None, str | None]:
    by_fp, by_tag, by_serial = index
    if row.fingerprint and row.fingerprint in by_fp:
        return by_fp[row.fingerprint], None
    if row.asset_tag and row.asset_tag.lower() in by_tag:
        return by_tag[row.asset_tag.lower()], None
    if row.serial:
        found = by_serial.get(row.serial.lower(), [])
        if len(found) > 1:
            return None, "the serial number belongs to more than one device; add the asset tag"
        if found:
            return found[0], None
    if not (row.serial or row.asset_tag or row.fingerprint):
        return None, "no serial number, asset tag or certificate fingerprint"
    return None, None


def posture_import(
    *, actor: User | None, source: str, data: bytes, filename: str = "", progress: Any = None
) -> ImportResult:
    """Import one export, all or nothing. Raises PostureImportError with row errors."""
    if source not in PARSERS:
        raise PostureImportError([f"Unknown format {source!r}: use fleet, intune or jamf."])
    if len(data) > MAX_IMPORT_BYTES:
        raise PostureImportError([f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB."])
    rows, errors = PARSERS[PostureSource(source)](data)
    if len(rows) + len(errors) > MAX_ROWS:
        raise PostureImportError([f"More than {MAX_ROWS} rows: split the export."])
    if not rows and not errors:
        raise PostureImportError(["The file holds no devices."])
    now = clock.now()
    index = _index()
    result = ImportResult(import_id=uuid.uuid4(), source=source, rows=len(rows) + len(errors))
    matched: list[tuple[int, PostureRow, list[str]]] = []
    seen: dict[int, int] = {}
    for row in rows:
        if row.last_check_in is not None and row.last_check_in > now + dt.timedelta(days=1):
            errors.append(f"Line {row.line}: the last check-in is in the future.")
            continue
        device_id, problem = _match(row, index)
        if problem:
            errors.append(f"Line {row.line}: {problem}.")
            continue
        if device_id is None:
            result.unmatched_count += 1
            if len(result.unmatched) < UNMATCHED_SHOWN:
                result.unmatched.append(row.serial or row.asset_tag or row.fingerprint[:16])
            continue
        if device_id in seen:
            errors.append(f"Line {row.line}: the same device as line {seen[device_id]}.")
            continue
        seen[device_id] = row.line
        matched.append((device_id, row, compliance_reasons(row, now=now)))
    if errors:
        raise PostureImportError(sorted(errors, key=_line_key))
    with transaction.atomic():
        for start in range(0, len(matched), _BATCH):
            batch = matched[start : start + _BATCH]
            reports = PostureReport.objects.bulk_create(
                [
                    PostureReport(
                        device_id=device_id,
                        source=source,
                        import_id=result.import_id,
                        disk_encrypted=row.disk_encrypted,
                        passcode_set=row.passcode_set,
                        os_version=row.os_version,
                        jailbroken=row.jailbroken,
                        last_check_in=row.last_check_in,
                        compliant=not reasons,
                        compliance_reasons=reasons,
                        imported_at=now,
                    )
                    for device_id, row, reasons in batch
                ]
            )
            DevicePosture.objects.bulk_create(
                [
                    DevicePosture(
                        device_id=report.device_id,
                        report_id=report.pk,
                        source=source,
                        disk_encrypted=report.disk_encrypted,
                        passcode_set=report.passcode_set,
                        os_version=report.os_version,
                        jailbroken=report.jailbroken,
                        last_check_in=report.last_check_in,
                        compliant=report.compliant,
                        compliance_reasons=report.compliance_reasons,
                        updated_at=now,
                    )
                    for report in reports
                ],
                update_conflicts=True,
                unique_fields=["device"],
                update_fields=[
                    "report",
                    "source",
                    "disk_encrypted",
                    "passcode_set",
                    "os_version",
                    "jailbroken",
                    "last_check_in",
                    "compliant",
                    "compliance_reasons",
                    "updated_at",
                ],
            )
            if progress is not None:
                progress(len(batch))
        result.imported = len(matched)
        result.non_compliant = sum(1 for _, _, reasons in matched if reasons)
        result.compliant = result.imported - result.non_compliant
        result.wipes_confirmed = wipes_confirm_reported(
            device_ids=[device_id for device_id, row, _ in matched if row.wiped],
            source=source,
            import_id=result.import_id,
        )
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type="PostureImport",
            resource_id=str(result.import_id),
            purpose=PurposeOfUse.OPERATIONS,
            detail={
                "source": source,
                "file": filename[:200],
                "rows": result.rows,
                "imported": result.imported,
                "non_compliant": result.non_compliant,
                "unmatched": result.unmatched_count,
                "wipes_confirmed": result.wipes_confirmed,
            },
        )
    return result


def _line_key(message: str) -> tuple[int, str]:
    parts = message.split(" ", 2)
    number = parts[1].rstrip(":") if len(parts) > 1 else ""
    return (int(number) if number.isdigit() else 0, message)


# --- a device reported lost or stolen -----------------------------------------------------------------
@dataclass
class LostReport:
    wipe: WipeRequest
    sessions_ended: int
    tokens_revoked: int
    incident_id: int


def device_report_lost(*, actor: User | None, device_id: int, state: str, reason: str) -> LostReport:
    """A device was lost or stolen (ADR 1013): in one transaction, set its lifecycle,
    end every session seen from it (refused on their next request), revoke the OAuth
    tokens of the people who used it or whose tokens were issued to it (all of theirs:
    a token issued without a device certificate is bound to none) and every token of the
    OAuth clients linked to it (ADR 1018), record a remote-wipe
    request for the MDM and open an incident. The caller has checked
    `devices:device:manage`."""
    from safeward.identity import services as identity_services
    from safeward.identity.selectors import user_sessions_active
    from safeward.incidents.services import incident_open_for

    if state not in LOST_STATES:
        raise DeviceError("Report a device as lost or stolen.")
    reason = " ".join((reason or "").split())[:500]
    if not reason:
        raise DeviceError("Say what happened (where and when it was last seen).")
    with transaction.atomic():
        device = device_lifecycle_set(actor=actor, device_id=device_id, state=state, reason=reason)
        seen = list(DeviceSession.objects.filter(device=device).values_list("user_id", "session_id"))
        by_user: dict[int, set[uuid.UUID]] = {}
        for user_id, session_id in seen:
            by_user.setdefault(user_id, set()).add(session_id)
        # People whose tokens were issued to this device (ADR 1016), seen in a session or not,
        # and whose refresh tokens were (their access token may be gone, ADR 1019).
        bound = [
            *TokenDevice.objects.filter(device=device).values_list("access_token__user_id", flat=True),
            *RefreshTokenDevice.objects.filter(
                device=device, refresh_token__revoked__isnull=True
            ).values_list("refresh_token__user_id", flat=True),
        ]
        for user_id in bound:
            if user_id is not None:
                by_user.setdefault(user_id, set())
        ended = revoked = 0
        for user in User.objects.filter(pk__in=by_user).order_by("pk"):
            for user_session in user_sessions_active(user=user).filter(pk__in=by_user[user.pk]):
                identity_services.session_expire(user_session=user_session, reason="device_lost")
                ended += 1
            revoked += identity_services.user_tokens_revoke(actor=None, user=user, reason="device_lost")
        revoked += _linked_client_tokens_revoke(device)
        label = Device.Lifecycle(state).label.lower()
        incident = incident_open_for(
            actor=actor,
            title=f"Device {device.asset_tag} reported {label}",
            severity="high",
            summary=(
                f"{device.get_kind_display()} {device.asset_tag} was reported {label}. "
                f"{ended} session(s) ended, {revoked} token(s) revoked, remote wipe requested. "
                "Assess whether patient data on it was encrypted (breach assessment)."
            ),
            source="devices.report_lost",
        )
        wipe = WipeRequest.objects.create(
            device=device,
            requested_at=clock.now(),
            requested_by_id=actor.pk if actor is not None else None,
            reason=reason,
            incident_id=incident.pk,
            sessions_ended=ended,
            tokens_revoked=revoked,
        )
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type="WipeRequest",
            resource_id=wipe.pk,
            purpose=PurposeOfUse.SECURITY,
            reason=reason,
            detail={
                "device": device.pk,
                "state": str(state),
                "sessions_ended": ended,
                "oauth_revoked": revoked,
                "incident": incident.pk,
            },
        )
    return LostReport(wipe, ended, revoked, incident.pk)


def _linked_client_tokens_revoke(device: Device) -> int:
    """Every token of the OAuth clients linked to the device (ADR 1018): their credentials
    were on it. Refresh tokens first (each also ends its access token)."""
    applications = list(ClientDevice.objects.filter(device=device).values_list("application_id", flat=True))
    if not applications:
        return 0
    revoked = 0
    for refresh in RefreshToken.objects.filter(application_id__in=applications, revoked__isnull=True):
        refresh.revoke()
        revoked += 1
    for access in AccessToken.objects.filter(application_id__in=applications):
        access.revoke()
        revoked += 1
    return revoked


def device_certificate_set(*, actor: User | None, device_id: int, fingerprint: str) -> Device:
    """Record the SHA-256 fingerprint of the client certificate issued to a device."""
    value = fingerprint_normalise(fingerprint)
    if not value:
        raise DeviceError("A certificate fingerprint is 64 hexadecimal digits (SHA-256).")
    with transaction.atomic():
        device = Device.objects.select_for_update().filter(pk=device_id).first()
        if device is None:
            raise DeviceError(f"No device with id {device_id}.")
        if Device.objects.filter(certificate_fingerprint=value).exclude(pk=device_id).exists():
            raise DeviceError("Another device holds this certificate.")
        device.certificate_fingerprint = value
        device.updated_at = clock.now()
        device.save(update_fields=["certificate_fingerprint", "updated_at"])
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type="Device",
            resource_id=device.pk,
            purpose=PurposeOfUse.SECURITY,
            fields=["certificate_fingerprint"],
        )
    return device

"""Detection's writes: rule configuration, canaries, staff match keys, the
alerts the worker raises (with grouping of repeats), and `detect_pending`,
one pass of the worker over what has committed.

Every service that changes configuration takes `actor`, checks its
permission, and records its audit event in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.detection.models import (
    Alert,
    AlertEvidence,
    CanaryRecord,
    DetectionRule,
    Severity,
    StaffMatchKey,
)
from safeward.detection.rules import (
    CATALOG,
    rule_params_validate,
    rule_spec,
    severity_validate,
)
from safeward.detection.signals import alerts_raised
from safeward.identity.errors import NotPermitted
from safeward.identity.models import DRILL_USERNAME_PREFIX, User
from safeward.identity.permissions import Perm

__all__ = [
    "Finding",
    "alerts_raise",
    "canary_register",
    "canary_remove",
    "detect_pending",
    "rule_config_save",
    "rule_params_validate",
    "rules_ensure_defaults",
    "staff_match_keys_set",
]

DRILL_PREFIX = DRILL_USERNAME_PREFIX
DRILL_CANARY_PREFIX = "drill"


def _require(actor: User | None, perm: Perm) -> None:
    """`actor=None` is the operator at the server's command line."""
    if actor is not None and not actor.has_perm(perm):
        raise NotPermitted(f"{perm} is required")


# --- rule configuration ------------------------------------------------------------------------
def rules_ensure_defaults() -> int:
    """Create the rows of rules that have none yet (on migrate and after a
    flush); existing configuration is never touched. Returns rows created."""
    existing = set(DetectionRule.objects.values_list("code", flat=True))
    missing = [
        DetectionRule(code=code, enabled=True, severity=spec.severity.value, params=spec.defaults())
        for code, spec in CATALOG.items()
        if code not in existing
    ]
    DetectionRule.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def rule_config_save(
    *,
    actor: User | None,
    code: str,
    enabled: bool,
    severity: str,
    params: Mapping[str, Any] | None,
) -> DetectionRule:
    """Validate and store one rule's configuration; audited CONFIG_CHANGE
    naming the rule and the parameters that changed (step-up is the UI's job).
    Raises ValidationError with a clear message and stores nothing on bad input."""
    _require(actor, Perm.SECURITY_CONFIG_MANAGE)
    rule_spec(code)
    if not isinstance(enabled, bool):
        raise ValidationError({"enabled": ["Enabled must be true or false."]})
    severity_validate(severity)
    clean = rule_params_validate(code, params)
    with transaction.atomic():
        rule = DetectionRule.objects.select_for_update().filter(code=code).first()
        before: dict[str, Any] = {}
        if rule is None:
            rule = DetectionRule(code=code)
        else:
            before = {"enabled": rule.enabled, "severity": rule.severity, **rule.params}
        changed = sorted(
            name
            for name, value in {"enabled": enabled, "severity": severity, **clean}.items()
            if before.get(name, object()) != value
        )
        rule.enabled = enabled
        rule.severity = severity
        rule.params = clean
        rule.updated_at = clock.now()
        rule.updated_by_id = actor.pk if actor is not None else None
        rule.save()
        audit_record(
            action=Action.CONFIG_CHANGE,
            actor=actor,
            actor_username="" if actor is not None else "system:cli",
            resource_type="DetectionRule",
            resource_id=code,
            detail={"rule": code, "changed": changed, "enabled": enabled, "severity": severity},
        )
    return rule


# --- canaries ------------------------------------------------------------------------------------
def canary_register(*, actor: User | None, patient_id: str, label: str) -> CanaryRecord:
    """Mark an existing (decoy) patient as a canary: any access to it alerts
    at the highest severity. Labels starting with "drill" mark drill canaries."""
    from safeward.clinical.gateway import detection_patients_known

    _require(actor, Perm.SECURITY_CONFIG_MANAGE)
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise ValidationError({"label": ["Give the canary a label of at most 100 characters."]})
    pid = str(patient_id).strip()
    if not pid or pid not in detection_patients_known(patient_ids=[pid]):
        raise ValidationError({"patient_id": ["No patient with this id."]})
    with transaction.atomic():
        if CanaryRecord.objects.filter(patient_id=pid).exists():
            raise ValidationError({"patient_id": ["This patient is already a canary."]})
        canary = CanaryRecord.objects.create(patient_id=pid, label=label, created_at=clock.now())
        audit_record(
            action=Action.CONFIG_CHANGE,
            actor=actor,
            actor_username="" if actor is not None else "system:cli",
            resource_type="CanaryRecord",
            resource_id=str(canary.pk),
            detail={"canary": "register", "drill": label.startswith(DRILL_CANARY_PREFIX)},
        )
    return canary


def canary_remove(*, actor: User | None, canary_id: int) -> None:
    _require(actor, Perm.SECURITY_CONFIG_MANAGE)
    with transaction.atomic():
        deleted, _ = CanaryRecord.objects.filter(pk=canary_id).delete()
        if not deleted:
            raise ValidationError({"canary": ["No such canary."]})
        audit_record(
            action=Action.CONFIG_CHANGE,
            actor=actor,
            actor_username="" if actor is not None else "system:cli",
            resource_type="CanaryRecord",
            resource_id=str(canary_id),
            detail={"canary": "remove"},
        )


# --- staff match keys ----------------------------------------------------------------------------
ADDRESS_SCOPE = "detection.staff_address"
NATIONAL_ID_SCOPE = "clinical.patient.national_id_index"


def address_canonical(address: Mapping[str, Any] | None) -> str | None:
    """The part of an address that identifies a household: street lines and
    postal code (city and country vary in spelling and add nothing)."""
    if not address:
        return None
    lines = address.get("line") or []
    if isinstance(lines, str):
        lines = [lines]
    parts = [str(line) for line in lines if line] + [str(address.get("postal_code") or "")]
    text = " ".join(part for part in parts if part).strip()
    return text or None


def address_index(address: Mapping[str, Any] | None) -> bytes | None:
    from safeward.crypto.fields import compute_blind_index

    text = address_canonical(address)
    if text is None:
        return None
    return compute_blind_index(text, normaliser="name", scope=ADDRESS_SCOPE)


def staff_match_keys_set(
    *,
    actor: User | None,
    user_id: int,
    national_id: str | None = None,
    address: Mapping[str, Any] | None = None,
    patient_id: str = "",
) -> StaffMatchKey:
    """Record (as keyed hashes only) what identifies a staff member as a
    patient or a household, for the own-record and neighbour rules. HR data:
    needs the workforce-manage permission; audited without the values."""
    from safeward.crypto.fields import compute_blind_index

    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    if not User.objects.filter(pk=user_id).exists():
        raise ValidationError({"user": ["No such user."]})
    try:
        nid = (
            compute_blind_index(national_id, normaliser="national_id", scope=NATIONAL_ID_SCOPE)
            if national_id
            else None
        )
        home = address_index(address)
    except ValidationError as error:
        raise ValidationError({"value": ["The national id or address is not valid."]}) from error
    with transaction.atomic():
        keys, _ = StaffMatchKey.objects.update_or_create(
            user_id=user_id,
            defaults={
                "national_id_index": nid,
                "address_index": home,
                "patient_id": str(patient_id or "")[:64],
                "updated_at": clock.now(),
                "updated_by_id": actor.pk if actor is not None else None,
            },
        )
        audit_record(
            action=Action.ACCOUNT_UPDATE,
            actor=actor,
            actor_username="" if actor is not None else "system:cli",
            resource_type="StaffMatchKey",
            resource_id=str(user_id),
            detail={
                "national_id": nid is not None,
                "address": home is not None,
                "patient_link": bool(patient_id),
            },
        )
    return keys


# --- alerts --------------------------------------------------------------------------------------
@dataclass
class Finding:
    """One rule firing on one subject: the worker's output, turned into a new
    alert or an occurrence of an open one."""

    rule: str
    severity: str
    title: str
    subject: str  # the grouping subject, e.g. "user:12" or "ip:10.0.0.1"
    evidence: list[tuple[int, dt.datetime]]  # (audit event id, occurred at)
    subject_user_id: int | None = None
    subject_username: str = ""
    patient_id: str = ""
    client_ip: str | None = None
    is_drill: bool = False
    group_minutes: int = 24 * 60
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def first_at(self) -> dt.datetime:
        return min(moment for _, moment in self.evidence)

    @property
    def last_at(self) -> dt.datetime:
        return max(moment for _, moment in self.evidence)

    @property
    def event_ids(self) -> list[int]:
        return [event_id for event_id, _ in self.evidence]

    @property
    def group_key(self) -> str:
        return f"{self.rule}|{self.subject}"[:200]


_SEVERITY_ORDER = {value: index for index, value in enumerate(Severity.values)}


def _notify(alerts: list[tuple[int, bool]]) -> None:
    alerts_raised.send(sender=Alert, alerts=alerts)


_GROWN_FIELDS = ["occurrences", "last_event_at", "last_event_id", "severity", "detail", "updated_at"]


def _alerts_update(alerts: list[Alert]) -> None:
    """The grown alerts' new counts and times: one prepared UPDATE run for
    every row (executemany). Django's `bulk_update` builds a CASE per field
    with a branch per row, quadratic in the rows (slower than one save each
    on a stream where thousands of alerts grow)."""
    if not alerts:
        return
    fields = [f for f in Alert._meta.concrete_fields if f.name in _GROWN_FIELDS]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.attname)} = %s" for f in fields)
    sql = f"UPDATE {quote(Alert._meta.db_table)} SET {sets} WHERE id = %s"  # noqa: S608 - model metadata names
    rows = [
        [f.get_db_prep_save(getattr(alert, f.attname), connection) for f in fields] + [alert.pk]
        for alert in alerts
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def alerts_raise(findings: Sequence[Finding], *, now: dt.datetime | None = None) -> list[tuple[int, bool]]:
    """Create alerts for findings, or add occurrences and evidence to the open
    alert of the same rule and subject (new or in triage, last seen within
    the rule's group window). Call inside the worker's transaction; the
    `alerts_raised` signal is sent once for the call after it commits. Returns (alert id, created).

    The findings are grouped in memory, in order, exactly as one write each
    would group them; then the writes go out in bulk: one multi-row INSERT of
    the new alerts, one prepared UPDATE (executemany) of the open alerts that
    grew, one INSERT of the evidence (ADR 1114). Raising is not audited: the alert row and its
    evidence are the record (ADR 0700)."""
    if not findings:
        return []
    now = now or clock.now()
    keys = {finding.group_key for finding in findings}
    open_alerts: dict[str, Alert] = {}
    for alert in (
        Alert.objects.select_for_update()
        .filter(group_key__in=keys, status__in=[Alert.Status.NEW, Alert.Status.TRIAGE])
        .order_by("group_key", "-last_event_at")
    ):
        open_alerts.setdefault(alert.group_key, alert)
    created_now: list[Alert] = []
    grown: dict[int, Alert] = {}  # stored alerts that grew, by id
    placed: list[tuple[Alert, bool, Finding]] = []
    for finding in findings:
        found = open_alerts.get(finding.group_key)
        window = dt.timedelta(minutes=finding.group_minutes)
        if found is not None and finding.first_at - found.last_event_at <= window:
            alert = found
            alert.occurrences += 1
            if finding.last_at >= alert.last_event_at:
                alert.last_event_at = finding.last_at
                alert.last_event_id = max(alert.last_event_id, max(finding.event_ids))
            if _SEVERITY_ORDER.get(finding.severity, 0) > _SEVERITY_ORDER.get(alert.severity, 0):
                alert.severity = finding.severity
            merged = dict(alert.detail)
            merged.update(finding.detail)
            alert.detail = merged
            alert.updated_at = now
            if alert.pk is not None:  # one created above is inserted in its final state
                grown[alert.pk] = alert
            created = False
        else:
            alert = Alert(
                rule=finding.rule,
                severity=finding.severity,
                title=finding.title[:200],
                subject_user_id=finding.subject_user_id,
                subject_username=finding.subject_username[:150],
                patient_id=finding.patient_id,
                client_ip=finding.client_ip,
                group_key=finding.group_key,
                first_event_id=min(finding.event_ids),
                last_event_id=max(finding.event_ids),
                first_event_at=finding.first_at,
                last_event_at=finding.last_at,
                created_at=now,
                updated_at=now,
                is_drill=finding.is_drill,
                detail=finding.detail,
            )
            created_now.append(alert)
            open_alerts[finding.group_key] = alert
            created = True
        placed.append((alert, created, finding))
    # Both backends return the new ids from a multi-row INSERT (PostgreSQL, SQLite >= 3.35).
    Alert.objects.bulk_create(created_now)
    _alerts_update(list(grown.values()))
    AlertEvidence.objects.bulk_create(
        [
            AlertEvidence(alert=alert, event_id=event_id, occurred_at=moment)
            for alert, _, finding in placed
            for event_id, moment in finding.evidence
        ],
        ignore_conflicts=True,
    )
    results = [(alert.pk, created) for alert, created, _ in placed]
    seen: dict[int, bool] = {}
    for alert_id, created in results:
        seen[alert_id] = seen.get(alert_id, False) or created
    transaction.on_commit(partial(_notify, list(seen.items())))
    return results


def detect_pending(*, limit: int | None = None) -> int:
    """Process every audit event that has committed and not been processed,
    once (late commits included as they arrive). Returns events processed."""
    from safeward.detection.worker import process_pending

    return process_pending(limit=limit).events


def staff_user_ids(usernames: Iterable[str]) -> dict[str, int]:
    return dict(User.objects.filter(username__in=list(usernames)).values_list("username", "pk"))

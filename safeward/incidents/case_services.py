"""Case writes (issue 19): cases opened by hand, owners, tasks, timeline
notes, lessons learned, exercises, evidence under custody, containment from
the case, and the breach clock. Each runs in one transaction with its audit
event; texts people type stay on the case, never in the audit row."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.crypto import streams
from safeward.crypto.errors import IntegrityError
from safeward.crypto.phi import PhiCategory
from safeward.crypto.stores import FileStreamStore
from safeward.detection.triage import InvalidTransition, TriageError, UnknownObject
from safeward.identity.errors import NotPermitted
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents import breach_scope, containment, rules, selectors
from safeward.incidents.models import BreachAssessment, CustodyEvent, Evidence, Incident, Task, TimelineEntry
from safeward.incidents.services import MAX_SUMMARY, MAX_TITLE, _playbook, timeline_entry

if TYPE_CHECKING:
    from safeward.detection.drills.runner import DrillRun

EVIDENCE_AD_PREFIX = b"incidents.evidence|"
MAX_EVIDENCE_BYTES = 200 * 1024 * 1024
MAX_WINDOW_DAYS = 3 * 366
RISK_FACTORS = (
    ("nature", "Nature and extent of the PHI involved (identifiers, likelihood of re-identification)"),
    ("recipient", "The unauthorized person who used the PHI or to whom it was disclosed"),
    ("acquired", "Whether the PHI was actually acquired or viewed"),
    ("mitigation", "The extent to which the risk to the PHI has been mitigated"),
)


class EvidenceMismatch(TriageError):
    status = 409


def _require(actor: User, permission: str) -> None:
    if not actor.has_perm(permission):
        raise NotPermitted(f"{permission} is required")


def _incident(incident_id: int) -> Incident:
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None:
        raise UnknownObject("No such incident.")
    return incident


def _audit(actor: User | None, incident: Incident, action: Action, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_username="" if actor else "system",
        resource_type="Incident",
        resource_id=incident.pk,
        purpose=PurposeOfUse.SECURITY,
        detail=detail,
    )


def _person(user_id: int | None, label: str, permission: str) -> int | None:
    """The id of an active person who holds `permission` (selectors.staff_choices lists them)."""
    if user_id is None:
        return None
    if not selectors.staff_eligible(user_id=user_id, permission=permission):
        raise TriageError(f"Choose the {label} from the list of people who work incident cases.")
    return user_id


# --- cases ------------------------------------------------------------------------------


@transaction.atomic
def incident_create(
    *,
    actor: User,
    title: str,
    category: str,
    severity: str,
    summary: str = "",
    owner_id: int | None = None,
    reviewer_id: int | None = None,
    is_exercise: bool = False,
    scenario: str = "",
    participants: str = "",
) -> Incident:
    """A case opened by hand (a phone call, a letter, a tabletop exercise)."""
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    title = " ".join((title or "").split())
    if not title or len(title) > MAX_TITLE:
        raise TriageError(f"Give the case a title of at most {MAX_TITLE} characters.")
    if category not in Incident.Category.values:
        raise TriageError("Choose a category.")
    if severity not in Incident.Severity.values:
        raise TriageError("Choose a severity.")
    summary = (summary or "").strip()
    if len(summary) > MAX_SUMMARY:
        raise TriageError(f"The summary is limited to {MAX_SUMMARY} characters.")
    owner = _person(owner_id, "owner", selectors.OWNER_PERMISSION) or actor.pk
    reviewer = _person(reviewer_id, "reviewer", selectors.REVIEWER_PERMISSION)
    if reviewer is not None and reviewer == owner:
        raise TriageError("The reviewer must be someone other than the owner.")
    exercise: dict[str, Any] = {}
    if is_exercise:
        if not scenario.strip():
            raise TriageError("An exercise needs its scenario.")
        exercise = {
            "scenario": scenario.strip()[:MAX_SUMMARY],
            "participants": [name.strip() for name in participants.split(",") if name.strip()][:100],
            "injects": [],
            "measurements": {},
            "findings": [],
            "drills": [],
            # A tabletop is an exercise opened by hand; the quarter groups it with
            # that quarter's drill exercises in the annual-exercise evidence (ADR 1414).
            "kind": "tabletop",
            "quarter": _quarter(clock.now()),
        }
    incident = Incident.objects.create(
        title=title,
        category=category,
        severity=severity,
        summary=summary,
        opened_at=clock.now(),
        opened_by_id=actor.pk,
        owner_id=owner,
        reviewer_id=reviewer,
        is_exercise=is_exercise,
        exercise=exercise,
    )
    _playbook(incident)
    timeline_entry(
        incident=incident,
        kind=TimelineEntry.Kind.EXERCISE if is_exercise else TimelineEntry.Kind.STATUS,
        text="Exercise opened" if is_exercise else "Case opened by hand",
        actor=actor,
    )
    _audit(actor, incident, Action.CREATE, category=category, severity=severity, exercise=is_exercise)
    return incident


@transaction.atomic
def incident_assign(
    *, actor: User, incident_id: int, owner_id: int | None, reviewer_id: int | None, category: str
) -> Incident:
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    incident = _incident(incident_id)
    if category not in Incident.Category.values:
        raise TriageError("Choose a category.")
    owner = _person(owner_id, "owner", selectors.OWNER_PERMISSION)
    reviewer = _person(reviewer_id, "reviewer", selectors.REVIEWER_PERMISSION)
    if owner is not None and owner == reviewer:
        raise TriageError("The reviewer must be someone other than the owner.")
    incident.owner_id, incident.reviewer_id, incident.category = owner, reviewer, category
    incident.save(update_fields=["owner_id", "reviewer_id", "category"])
    timeline_entry(
        incident=incident,
        kind=TimelineEntry.Kind.STATUS,
        text="Owner, reviewer or category changed",
        actor=actor,
    )
    _audit(actor, incident, Action.UPDATE, change="assign", category=category)
    return incident


@transaction.atomic
def timeline_note(
    *, actor: User, incident_id: int, occurred_at: dt.datetime, time_zone: str, text: str, for_report: bool
) -> TimelineEntry:
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    incident = _incident(incident_id)
    text = " ".join((text or "").split())
    if not text or len(text) > 1000:
        raise TriageError("Write the note (at most 1000 characters).")
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TriageError("Choose a known time zone, such as America/Chicago or UTC.") from None
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=zoneinfo.ZoneInfo(time_zone))
    if occurred_at > clock.now() + dt.timedelta(minutes=5):
        raise TriageError("A timeline entry cannot be in the future.")
    entry = timeline_entry(
        incident=incident,
        kind=TimelineEntry.Kind.MANUAL,
        text=text,
        occurred_at=occurred_at.astimezone(dt.UTC),
        time_zone=time_zone,
        for_report=for_report,
        actor=actor,
    )
    _audit(actor, incident, Action.UPDATE, change="timeline_note", entry_id=entry.pk)
    return entry


@transaction.atomic
def timeline_flag(*, actor: User, entry_id: int, for_report: bool) -> TimelineEntry:
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    entry = TimelineEntry.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise UnknownObject("No such timeline entry.")
    entry.for_report = for_report
    entry.save(update_fields=["for_report"])
    _audit(
        actor, entry.incident, Action.UPDATE, change="timeline_flag", entry_id=entry.pk, for_report=for_report
    )
    return entry


@transaction.atomic
def task_set_done(*, actor: User, task_id: int, done: bool) -> Task:
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    task = Task.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise UnknownObject("No such task.")
    task.done_at = clock.now() if done else None
    task.done_by_id = actor.pk if done else None
    task.save(update_fields=["done_at", "done_by_id"])
    _audit(actor, task.incident, Action.UPDATE, change="task", task_id=task.pk, done=done)
    return task


@transaction.atomic
def task_due_set(*, actor: User, task_id: int, due_at: dt.datetime | None) -> Task:
    """Set or clear when a task must be done; the deadline sweep alerts the owner as it nears."""
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    task = Task.objects.select_for_update().select_related("incident").filter(pk=task_id).first()
    if task is None:
        raise UnknownObject("No such task.")
    if task.incident.status == Incident.Status.CLOSED:
        raise InvalidTransition("The case is closed; reopen it first.")
    if due_at is not None:
        if due_at.tzinfo is None:
            due_at = due_at.replace(tzinfo=dt.UTC)
        if due_at < task.incident.opened_at:
            raise TriageError("A task cannot be due before the case was opened.")
        if due_at > clock.now() + dt.timedelta(days=MAX_WINDOW_DAYS):
            raise TriageError("A task's due date is at most three years ahead.")
    task.due_at = due_at
    task.save(update_fields=["due_at"])
    _audit(
        actor,
        task.incident,
        Action.UPDATE,
        change="task_due",
        task_id=task.pk,
        due=due_at.isoformat() if due_at else None,
    )
    return task


@transaction.atomic
def follow_up_add(*, actor: User, incident_id: int, title: str) -> Task:
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    incident = _incident(incident_id)
    title = " ".join((title or "").split())
    if not title or len(title) > 300:
        raise TriageError("Describe the follow-up action (at most 300 characters).")
    position = incident.tasks.filter(kind=Task.Kind.FOLLOW_UP).count()
    task = Task.objects.create(incident=incident, kind=Task.Kind.FOLLOW_UP, title=title, position=position)
    _audit(actor, incident, Action.UPDATE, change="follow_up", task_id=task.pk)
    return task


@transaction.atomic
def lessons_set(*, actor: User, incident_id: int, lessons: str) -> Incident:
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    incident = _incident(incident_id)
    lessons = (lessons or "").strip()
    if len(lessons) > MAX_SUMMARY:
        raise TriageError(f"Lessons learned are limited to {MAX_SUMMARY} characters.")
    incident.lessons_learned = lessons
    incident.save(update_fields=["lessons_learned"])
    _audit(actor, incident, Action.UPDATE, change="lessons")
    return incident


@transaction.atomic
def exercise_record(
    *, actor: User, incident_id: int, kind: str, text: str, minutes: int | None = None
) -> Incident:
    """An inject, a measured time (e.g. "time to contain: 42 min"), a finding,
    or a `safeward drill` result attached to an exercise."""
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    incident = _incident(incident_id)
    if not incident.is_exercise:
        raise InvalidTransition("Only an exercise records injects, measurements, findings and drills.")
    text = " ".join((text or "").split())
    if not text or len(text) > 500:
        raise TriageError("Describe it in at most 500 characters.")
    exercise = dict(incident.exercise)
    if kind == "inject":
        exercise["injects"] = [*exercise.get("injects", []), {"at": clock.now().isoformat(), "text": text}]
    elif kind == "finding":
        exercise["findings"] = [*exercise.get("findings", []), text]
    elif kind == "measurement":
        if minutes is None or not 0 <= minutes <= 100_000:
            raise TriageError("Give the measured time in minutes.")
        exercise["measurements"] = {**exercise.get("measurements", {}), text: minutes}
    elif kind == "drill":
        exercise["drills"] = [*exercise.get("drills", []), text]
    else:
        raise TriageError("Choose inject, measurement, finding or drill.")
    incident.exercise = exercise
    incident.save(update_fields=["exercise"])
    timeline_entry(incident=incident, kind=TimelineEntry.Kind.EXERCISE, text=f"{kind}: {text}", actor=actor)
    _audit(actor, incident, Action.UPDATE, change=f"exercise_{kind}")
    return incident


# --- drill results attached automatically -------------------------------------------------

DRILL_SOURCES = {"restore_test": "Restore drill", "attack_drill": "Detection drill"}
DRILL_SCENARIOS = {
    "restore_test": "Restore the newest backup into a scratch database and check it (technical).",
    "attack_drill": "Replay known attacks against the running system and time their detection (technical).",
}


@dataclass(frozen=True)
class DrillResult:
    """What a scheduled drill measured: no patient data, only counts and times."""

    source: str  # a DRILL_SOURCES key
    ref: str  # the drill's own record, e.g. the restore test's id
    at: dt.datetime
    passed: bool
    seconds: float
    summary: str


def _quarter(at: dt.datetime) -> str:
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


def _drill_exercise(source: str, at: dt.datetime) -> Incident:
    """The quarter's open exercise for this kind of drill, opened on its first result."""
    quarter = _quarter(at)
    title = f"{DRILL_SOURCES[source]} {quarter}"
    found = (
        Incident.objects.select_for_update()
        .filter(is_exercise=True, exercise__drill_source=source, exercise__quarter=quarter)
        .exclude(status=Incident.Status.CLOSED)
        .order_by("-id")
        .first()
    )
    if found is not None:
        return found
    incident = Incident.objects.create(
        title=title,
        category=Incident.Category.RANSOMWARE,
        severity=Incident.Severity.LOW,
        summary="Opened by the quarter's first scheduled drill; each run attaches its result.",
        opened_at=at,
        is_exercise=True,
        exercise={
            "scenario": DRILL_SCENARIOS[source],
            "participants": [],
            "injects": [],
            "measurements": {},
            "findings": [],
            "drills": [],
            "drill_source": source,
            "kind": "technical",
            "quarter": quarter,
        },
    )
    _playbook(incident)
    timeline_entry(
        incident=incident, kind=TimelineEntry.Kind.EXERCISE, text="Exercise opened by a drill", actor=None
    )
    _audit(
        None, incident, Action.CREATE, category=incident.category, severity=incident.severity, exercise=True
    )
    return incident


def drill_result_attach(
    *, result: DrillResult, incident_id: int | None = None, actor: User | None = None
) -> Incident:
    """Attach a drill's result and timing to an exercise, in the caller's
    transaction (the drill's own row commits with it): to `incident_id`
    when named (an open exercise), else to the quarter's exercise for the
    drill, opened on the first result. A timeline entry for the report and
    an audit event record it; `incidents.annual_exercise` then counts it."""
    if result.source not in DRILL_SOURCES:
        raise TriageError("Unknown kind of drill.")
    with transaction.atomic():
        if incident_id is None:
            incident = _drill_exercise(result.source, result.at)
        else:
            incident = _incident(incident_id)
            if not incident.is_exercise or incident.status == Incident.Status.CLOSED:
                raise InvalidTransition("Drill results attach to an exercise that is not closed.")
        drill = {
            "source": result.source,
            "ref": result.ref[:64],
            "at": result.at.isoformat(),
            "passed": result.passed,
            "seconds": round(result.seconds, 2),
            "summary": " ".join(result.summary.split())[:500],
        }
        exercise = dict(incident.exercise)
        exercise["drills"] = [*exercise.get("drills", []), drill]
        incident.exercise = exercise
        incident.save(update_fields=["exercise"])
        timeline_entry(
            incident=incident,
            kind=TimelineEntry.Kind.EXERCISE,
            text=f"{DRILL_SOURCES[result.source]} {drill['ref']}: "
            f"{'passed' if result.passed else 'FAILED'} in {drill['seconds']} s",
            occurred_at=result.at,
            ref=f"drill:{result.source}:{drill['ref']}"[:64],
            actor=actor,
            for_report=True,
        )
        _audit(
            actor,
            incident,
            Action.UPDATE,
            change="exercise_drill",
            source=result.source,
            ref=drill["ref"],
            passed=result.passed,
            seconds=drill["seconds"],
        )
    return incident


def attack_drill_exercise_check(exercise_id: int) -> None:
    """Before `safeward drill run --exercise ID` (ADR 1417): refuse an unknown,
    closed or non-exercise case with a reason the operator can act on."""
    incident = Incident.objects.filter(pk=exercise_id).first()
    if incident is None:
        raise UnknownObject(f"There is no case #{exercise_id}; see the exercises under /incidents/.")
    if not incident.is_exercise:
        raise InvalidTransition(f"Case #{exercise_id} is not an exercise; name an exercise case.")
    if incident.status == Incident.Status.CLOSED:
        raise InvalidTransition(f"Exercise #{exercise_id} is closed; reopen it or name an open exercise.")


def attack_drill_attach(run: DrillRun) -> Incident:
    """A `safeward drill run` (registered with detection's drill runner in
    ready(), ADR 1414): the run joins the exercise named with `--exercise`
    (ADR 1417), else the quarter's detection-drill exercise."""
    if run.exercise_id is not None:
        attack_drill_exercise_check(run.exercise_id)
    return drill_result_attach(
        incident_id=run.exercise_id,
        result=DrillResult(
            source="attack_drill",
            ref=run.ref,
            at=run.at,
            passed=run.passed,
            seconds=run.seconds,
            summary=run.summary,
        ),
    )


# --- evidence ---------------------------------------------------------------------------


def _evidence_path() -> Path:
    return Path(settings.VAR_DIR) / "incidents" / "evidence"


def evidence_dir() -> Path:
    path = _evidence_path()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _evidence_ad(storage_id: uuid.UUID) -> bytes:
    return EVIDENCE_AD_PREFIX + storage_id.bytes


def evidence_files_store() -> FileStreamStore:
    """Registered with the crypto app (IncidentsConfig.ready) so key rotation moves the files."""
    return FileStreamStore(
        label="incidents.evidence files",
        directory=_evidence_path,
        pattern="*.swf",
        associated_data=lambda path: _evidence_ad(uuid.UUID(path.stem)),
        stream_prefixes=(EVIDENCE_AD_PREFIX,),
        writers=(__name__,),
        phi_categories=(PhiCategory.CLINICAL, PhiCategory.IDENTIFIER, PhiCategory.CONTACT),
    )


class _Hashing:
    """A reader that hashes and counts what passes through it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source, self.digest, self.size = source, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        block = self.source.read(n)
        self.digest.update(block)
        self.size += len(block)
        if self.size > MAX_EVIDENCE_BYTES:
            raise TriageError("Evidence files are limited to 200 MiB.")
        return block


def _custody(
    evidence: Evidence, action: str, actor: User | None, note: str = "", to_user_id: int | None = None
) -> None:
    CustodyEvent.objects.create(
        evidence=evidence,
        action=action,
        actor_id=actor.pk if actor is not None else None,
        to_user_id=to_user_id,
        occurred_at=clock.now(),
        note=note[:500],
    )


def evidence_add(
    *, actor: User, incident_id: int, title: str, filename: str, content_type: str, source: IO[bytes]
) -> Evidence:
    """Encrypt the file as it streams in, hashing the plaintext; the row, its
    first custody event and the file commit together."""
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise TriageError("Give the evidence a title of at most 200 characters.")
    filename = Path(filename or "evidence.bin").name[:200] or "evidence.bin"
    storage_id = uuid.uuid4()
    target = evidence_dir() / f"{storage_id}.swf"
    hashing = _Hashing(source)
    try:
        with target.open("xb") as handle:
            streams.encrypt_stream(hashing, handle, associated_data=_evidence_ad(storage_id))  # type: ignore[arg-type]
        if hashing.size == 0:
            raise TriageError("The file is empty.")
        with transaction.atomic():
            incident = _incident(incident_id)
            evidence = Evidence.objects.create(
                incident=incident,
                title=title,
                filename=filename,
                content_type=(content_type or "application/octet-stream")[:100],
                size=hashing.size,
                sha256=hashing.digest.hexdigest(),
                storage_id=storage_id,
                acquired_at=clock.now(),
                acquired_by_id=actor.pk,
                holder_id=actor.pk,
            )
            _custody(evidence, CustodyEvent.Action.ACQUIRED, actor)
            timeline_entry(
                incident=incident,
                kind=TimelineEntry.Kind.EVIDENCE,
                text=f"Evidence {evidence.pk} acquired: {title} ({hashing.size} bytes)",
                ref=f"evidence:{evidence.pk}",
                actor=actor,
            )
            _audit(
                actor,
                incident,
                Action.CREATE,
                change="evidence",
                evidence_id=evidence.pk,
                sha256=evidence.sha256,
            )
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return evidence


def _evidence(evidence_id: int) -> Evidence:
    evidence = Evidence.objects.select_related("incident").filter(pk=evidence_id).first()
    if evidence is None:
        raise UnknownObject("No such evidence.")
    return evidence


def _decrypt_and_hash(evidence: Evidence) -> tuple[bytes | None, str]:
    import io

    handle = io.BytesIO()
    try:
        with (evidence_dir() / f"{evidence.storage_id}.swf").open("rb") as source:
            streams.decrypt_stream(source, handle, associated_data=_evidence_ad(evidence.storage_id))
    except (OSError, IntegrityError) as error:
        return None, type(error).__name__
    content = handle.getvalue()
    return content, hashlib.sha256(content).hexdigest()


def evidence_open(*, actor: User, evidence_id: int, download: bool = True) -> tuple[Evidence, bytes]:
    """Decrypt, check the SHA-256 against the one taken at acquisition, and
    record the download (custody and audit). A mismatch is recorded as such
    and nothing is returned."""
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    evidence = _evidence(evidence_id)
    content, digest = _decrypt_and_hash(evidence)
    with transaction.atomic():
        if content is None or digest != evidence.sha256:
            _custody(
                evidence,
                CustodyEvent.Action.MISMATCH,
                actor,
                note=f"expected {evidence.sha256[:16]}, got {digest[:16]}",
            )
            _audit(actor, evidence.incident, Action.READ, change="evidence_mismatch", evidence_id=evidence.pk)
            timeline_entry(
                incident=evidence.incident,
                kind=TimelineEntry.Kind.EVIDENCE,
                text=f"Evidence {evidence.pk} failed its integrity check",
                ref=f"evidence:{evidence.pk}",
                actor=actor,
            )
        else:
            action = CustodyEvent.Action.DOWNLOADED if download else CustodyEvent.Action.VERIFIED
            _custody(evidence, action, actor)
            _audit(
                actor,
                evidence.incident,
                Action.EXPORT if download else Action.READ,
                change=f"evidence_{action}",
                evidence_id=evidence.pk,
                sha256=digest,
            )
    if content is None or digest != evidence.sha256:
        raise EvidenceMismatch(
            "The evidence file does not match the SHA-256 taken when it was acquired; it was not released. "
            "The mismatch is recorded in the chain of custody."
        )
    return evidence, content


def evidence_verify(*, actor: User, evidence_id: int) -> Evidence:
    evidence, _ = evidence_open(actor=actor, evidence_id=evidence_id, download=False)
    return evidence


@transaction.atomic
def evidence_transfer(*, actor: User, evidence_id: int, to_user_id: int, note: str) -> Evidence:
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    evidence = Evidence.objects.select_for_update().select_related("incident").filter(pk=evidence_id).first()
    if evidence is None:
        raise UnknownObject("No such evidence.")
    if _person(to_user_id, "recipient", selectors.OWNER_PERMISSION) == evidence.holder_id:
        raise TriageError("That person already holds the evidence.")
    evidence.holder_id = to_user_id
    evidence.save(update_fields=["holder_id"])
    _custody(
        evidence, CustodyEvent.Action.TRANSFERRED, actor, note=" ".join(note.split()), to_user_id=to_user_id
    )
    _audit(
        actor,
        evidence.incident,
        Action.UPDATE,
        change="evidence_transfer",
        evidence_id=evidence.pk,
        to_user_id=to_user_id,
    )
    return evidence


# --- containment ------------------------------------------------------------------------


@transaction.atomic
def containment_run(*, actor: User, incident_id: int, code: str, target: str) -> str:
    """Run a registered containment action (`safeward.incidents.containment`) for the case."""
    _require(actor, Perm.INCIDENT_RECORD_MANAGE)
    action = containment.action_get(code)
    if action is None:
        raise TriageError("Choose a containment action.")
    _require(actor, action.permission)
    target = (target or "").strip()
    if not target or len(target) > 150:
        raise TriageError(f"Give the {action.target_label.lower()} to act on.")
    incident = _incident(incident_id)
    if incident.status == Incident.Status.CLOSED:
        raise InvalidTransition("The case is closed; reopen it first.")
    try:
        summary = action.run(actor=actor, incident_id=int(incident.pk), target=target)
    except containment.ContainmentRefused as refused:
        raise TriageError(str(refused)) from None
    timeline_entry(
        incident=incident,
        kind=TimelineEntry.Kind.CONTAINMENT,
        text=f"{action.label}: {summary}",
        ref=f"containment:{code}",
        actor=actor,
        for_report=True,
    )
    _audit(actor, incident, Action.EXECUTE, change="contain", containment=code)
    return summary


# --- breach clock -----------------------------------------------------------------------


def discovery_from_alerts(incident: Incident) -> tuple[dt.datetime, str]:
    """The first audit-recorded moment a workforce member knew: the earliest
    acknowledgement (triage) of a linked alert; else when the case was opened."""
    from safeward.detection.queue import alerts_of_incident

    moments = [
        (alert.triaged_at, f"alert {alert.pk} first acknowledged")
        for alert in alerts_of_incident(incident_id=int(incident.pk))
        if alert.triaged_at is not None
    ]
    if moments:
        return min(moments, key=lambda moment: moment[0])
    return incident.opened_at, "case opened"


def _usernames_to_ids(usernames: list[str]) -> tuple[int, ...]:
    wanted = [name.strip() for name in usernames if name.strip()]
    found = dict(User.objects.filter(username__in=wanted).values_list("username", "pk"))
    missing = [name for name in wanted if name not in found]
    if missing:
        raise TriageError(f"No account has the username {missing[0]!r}.")
    return tuple(int(found[name]) for name in wanted)


def breach_scope_compute(
    *,
    actor: User,
    session: SessionContext,
    incident_id: int,
    window_start: dt.datetime,
    window_end: dt.datetime,
    usernames: list[str] = (),  # type: ignore[assignment]
    client_ids: list[str] = (),  # type: ignore[assignment]
    session_ids: list[str] = (),  # type: ignore[assignment]
    file_hashes: list[str] = (),  # type: ignore[assignment]
    gdpr: bool = False,
) -> BreachAssessment:
    """Compute the affected patients from the audit trail and the export
    manifests, their states of residence through the gateway, and the
    discovery moment; store them on the case's breach assessment."""
    if not (actor.has_perm(Perm.INCIDENT_BREACH_MANAGE) or actor.has_perm(Perm.INCIDENT_RECORD_MANAGE)):
        raise NotPermitted(f"{Perm.INCIDENT_BREACH_MANAGE} or {Perm.INCIDENT_RECORD_MANAGE} is required")
    if window_end <= window_start:
        raise TriageError("The window must end after it starts.")
    if window_end - window_start > dt.timedelta(days=MAX_WINDOW_DAYS):
        raise TriageError("The window is limited to three years.")
    hashes = breach_scope.clean_hashes(file_hashes)
    for value in hashes:
        if len(value) != 64 or not all(char in "0123456789abcdef" for char in value):
            raise TriageError("A file hash is 64 hexadecimal characters (SHA-256).")
    clients = tuple(value.strip()[:100] for value in client_ids if value.strip())
    sessions = tuple(value.strip()[:64] for value in session_ids if value.strip())
    actor_ids = _usernames_to_ids(list(usernames))
    if not (actor_ids or clients or sessions or hashes):
        raise TriageError("Name at least one compromised account, OAuth client, session or file hash.")
    if not Incident.objects.filter(pk=incident_id).exists():
        raise UnknownObject("No such incident.")
    scope = breach_scope.ScopeInput(window_start, window_end, actor_ids, clients, sessions, hashes)
    patient_ids = breach_scope.scope_patient_ids(scope)
    residence = gateway.breach_residence(
        actor=actor, session=session, incident_id=incident_id, patient_ids=patient_ids
    )
    with transaction.atomic():
        incident = _incident(incident_id)
        discovered, source = discovery_from_alerts(incident)
        assessment, _ = BreachAssessment.objects.select_for_update().get_or_create(
            incident=incident, defaults={"window_start": window_start, "window_end": window_end}
        )
        assessment.window_start, assessment.window_end = window_start, window_end
        assessment.actor_ids, assessment.client_ids = list(actor_ids), list(clients)
        assessment.session_ids, assessment.file_hashes = list(sessions), list(hashes)
        assessment.patient_ids = patient_ids
        assessment.affected = len(patient_ids)
        assessment.by_state = residence.by_state
        assessment.stale_contacts = residence.stale_contacts
        assessment.computed_at = clock.now()
        assessment.discovered_at, assessment.discovery_source = discovered, source
        assessment.gdpr_applies = gdpr
        assessment.save()
        timeline_entry(
            incident=incident,
            kind=TimelineEntry.Kind.BREACH,
            text=f"Breach scope computed: {len(patient_ids)} patients affected",
            ref="breach",
            actor=actor,
        )
        _audit(actor, incident, Action.EXECUTE, change="breach_scope", affected=len(patient_ids))
    return assessment


@transaction.atomic
def discovery_override(
    *, actor: User, incident_id: int, discovered_at: dt.datetime | None, reason: str
) -> BreachAssessment:
    _require(actor, Perm.INCIDENT_BREACH_MANAGE)
    assessment = BreachAssessment.objects.select_for_update().filter(incident_id=incident_id).first()
    if assessment is None:
        raise UnknownObject("Compute the breach scope first.")
    reason = " ".join((reason or "").split())
    if discovered_at is not None and not reason:
        raise TriageError("Say why the discovery moment differs from the audit trail's.")
    if discovered_at is not None and discovered_at > clock.now():
        raise TriageError("Discovery cannot be in the future.")
    assessment.discovery_override_at = discovered_at
    assessment.discovery_override_reason = reason[:500] if discovered_at else ""
    assessment.save(update_fields=["discovery_override_at", "discovery_override_reason"])
    timeline_entry(
        incident=assessment.incident,
        kind=TimelineEntry.Kind.BREACH,
        text="Discovery moment overridden" if discovered_at else "Discovery override removed",
        actor=actor,
    )
    _audit(
        actor,
        assessment.incident,
        Action.UPDATE,
        change="discovery_override",
        overridden=discovered_at is not None,
    )
    return assessment


@transaction.atomic
def risk_assessment_set(
    *, actor: User, incident_id: int, factors: dict[str, str], conclusion: str
) -> BreachAssessment:
    """The 164.402(2) four-factor assessment: each factor's finding and the conclusion."""
    _require(actor, Perm.INCIDENT_BREACH_MANAGE)
    assessment = BreachAssessment.objects.select_for_update().filter(incident_id=incident_id).first()
    if assessment is None:
        raise UnknownObject("Compute the breach scope first.")
    cleaned: dict[str, str] = {}
    for code, _ in RISK_FACTORS:
        value = " ".join((factors.get(code) or "").split())
        if not value:
            raise TriageError("Record a finding for each of the four factors.")
        cleaned[code] = value[:2000]
    if conclusion not in ("low_probability", "breach"):
        raise TriageError("Conclude: a low probability of compromise, or a breach to notify.")
    assessment.risk_assessment = {
        **cleaned,
        "conclusion": conclusion,
        "by": actor.pk,
        "at": clock.now().isoformat(),
    }
    assessment.save(update_fields=["risk_assessment"])
    _audit(actor, assessment.incident, Action.UPDATE, change="risk_assessment", conclusion=conclusion)
    return assessment


@transaction.atomic
def notification_mark_sent(*, actor: User, incident_id: int, which: str) -> BreachAssessment:
    _require(actor, Perm.INCIDENT_BREACH_MANAGE)
    field = {
        "individuals": "individuals_notified_at",
        "hhs": "hhs_notified_at",
        "media": "media_notified_at",
    }.get(which)
    if field is None:
        raise TriageError("Choose individuals, hhs or media.")
    assessment = BreachAssessment.objects.select_for_update().filter(incident_id=incident_id).first()
    if assessment is None:
        raise UnknownObject("Compute the breach scope first.")
    setattr(assessment, field, clock.now())
    assessment.save(update_fields=[field])
    timeline_entry(
        incident=assessment.incident,
        kind=TimelineEntry.Kind.BREACH,
        text=f"Notification sent: {which}",
        actor=actor,
        for_report=True,
    )
    _audit(actor, assessment.incident, Action.UPDATE, change="notified", which=which)
    return assessment


# Which recorded notice fulfils a deadline (by code, or by prefix for media_<state>).
_NOTICE_FIELDS = {
    "individuals": "individuals_notified_at",
    "hhs": "hhs_notified_at",
    "hhs_log": "hhs_notified_at",
}


def _notice_field(code: str) -> str | None:
    return _NOTICE_FIELDS.get(code) or ("media_notified_at" if code.startswith("media_") else None)


def deadline_recorded(code: str) -> bool:
    """Whether SafeWard records the notice a deadline asks for (a state
    attorney general's or GDPR notice is kept outside it)."""
    return _notice_field(code) is not None


def deadline_done(assessment: BreachAssessment, code: str) -> dt.datetime | None:
    """When the notice a deadline asks for was recorded as sent (None: not yet, or not recorded here)."""
    field = _notice_field(code)
    return getattr(assessment, field) if field else None


def breach_deadlines(assessment: BreachAssessment) -> list[rules.Deadline]:
    discovery = assessment.discovery_override_at or assessment.discovered_at
    if discovery is None:
        return []
    return rules.deadlines(
        discovered=discovery,
        affected=assessment.affected,
        by_state=assessment.by_state,
        stale_contacts=assessment.stale_contacts,
        zone=timezone.get_default_timezone(),  # the hospital's days (SAFEWARD_TIME_ZONE)
        gdpr=assessment.gdpr_applies,
    )

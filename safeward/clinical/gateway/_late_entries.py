"""Paper records of a downtime entered into the chart as late entries
(issue 19, ADR 1412).

What a ward wrote on paper while SafeWard was down comes back into the chart
once it is up again, as a note marked as a late entry: its title and first
lines say so and carry the original time written on the paper, who did it and
the downtime period, so a reader never takes it for something written at the
time. The chart's own policy decides (the person entering it needs the same
relationship to the patient as for any note), and the CREATE event carries
`late_entry` and the continuity queue's entry id, never the content. The
second person's review stays the continuity queue's (`paper_entry_verify`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import Actor, assign, audit_fields, record
from safeward.clinical.gateway._patients import (
    count_emergency_access,
    load_patient,
    note_view,
    observation_view,
)
from safeward.clinical.gateway._writes import (
    UCUM,
    _encounter_of,
    _sensitivity,
    _text,
    _user,
    _write,
    check_plausible,
    validate_code,
)
from safeward.clinical.models import ClinicalNote, Observation, Patient
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import InvalidInput, NeedsConfirmation, NoteView, ObservationView, SessionContext
from safeward.one_door import entry

LATE_ENTRY_TITLE = "Late entry"


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@entry
def paper_entry_chart(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    paper_entry_id: int,
    what: str,
    occurred_at: dt.datetime,
    performed_by: str,
    downtime_started_at: dt.datetime,
    downtime_ended_at: dt.datetime,
    text: str,
    encounter_id: str | None = None,
) -> NoteView:
    """A nursing note marked as a late entry: `what` was done at `occurred_at`
    (inside the downtime) by `performed_by`, as written on the paper form.
    One CREATE event, resource `ClinicalNote`, detail `late_entry` and
    `paper_entry_id`."""
    if downtime_ended_at <= downtime_started_at:
        raise InvalidInput({"downtime": "A late entry belongs to a downtime that has ended."})
    if not downtime_started_at <= occurred_at <= downtime_ended_at:
        raise InvalidInput({"occurred_at": "The original time must fall within the downtime."})
    what = _text("what", what, max_length=60) or ""
    performed_by = _text("performed_by", performed_by, max_length=150) or ""
    body = _text("text", text, max_length=18_000) or ""
    now = clock.now()
    title = f"{LATE_ENTRY_TITLE}: {what} at {_utc(occurred_at)} (downtime)"
    header = (
        f"{LATE_ENTRY_TITLE}, recorded on paper during the downtime of {_utc(downtime_started_at)}"
        f" to {_utc(downtime_ended_at)}.\nOriginal time: {_utc(occurred_at)}; done by {performed_by}."
        f"\nEntered into the chart {_utc(now)}.\n\n"
    )

    def build(patient: Patient) -> ClinicalNote:
        note = ClinicalNote(
            patient=patient,
            encounter=_encounter_of(patient, encounter_id),
            author=_user(actor),
            kind=ClinicalNote.Kind.NURSING,
            sensitivity=_sensitivity(""),
            created_at=now,
        )
        assign(note, {"title": title[:200], "text": header + body})
        return note

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.NOTES,
        resource_type="ClinicalNote",
        build=build,
        view=note_view,
        submission=None,
        detail=lambda _note: {"late_entry": True, "paper_entry_id": paper_entry_id},
    )


@dataclass(frozen=True)
class PaperVital:
    """One measurement written on the paper chart: LOINC code, display, value, UCUM unit."""

    code: str
    display: str
    value: str
    unit: str


MAX_PAPER_VITALS = 20


@entry
def paper_vitals_chart(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    paper_entry_id: int,
    occurred_at: dt.datetime,
    downtime_started_at: dt.datetime,
    downtime_ended_at: dt.datetime,
    vitals: list[PaperVital],
    confirmed: bool = False,
    encounter_id: str | None = None,
) -> list[ObservationView]:
    """Vital signs written on paper during a downtime, as structured
    observations taken at `occurred_at` (ADR 1415): the same UCUM, LOINC and
    plausibility checks as `observation_record` (an impossible value is
    refused, an implausible one needs `confirmed`), the same policy (the
    results section), all or none in one transaction. Each observation's
    `late_entry_at` says when it was entered (the chart, REST and FHIR's
    `issued` show it); each CREATE event carries `late_entry`, the queue
    entry's id and the original time, never a value."""
    if downtime_ended_at <= downtime_started_at:
        raise InvalidInput({"downtime": "A late entry belongs to a downtime that has ended."})
    if not downtime_started_at <= occurred_at <= downtime_ended_at:
        raise InvalidInput({"occurred_at": "The original time must fall within the downtime."})
    if not vitals:
        raise InvalidInput({"vitals": "Give at least one measurement."})
    if len(vitals) > MAX_PAPER_VITALS:
        raise InvalidInput({"vitals": f"At most {MAX_PAPER_VITALS} measurements at a time."})
    # Every value is judged before the chart is opened: one bad value, nothing saved.
    checked: list[tuple[PaperVital, str, str, str]] = []
    implausible = []
    for vital in vitals:
        if not UCUM.match(vital.unit or ""):
            raise InvalidInput({"unit": "Not a valid UCUM unit."})
        code = validate_code("loinc", vital.code)
        value = _text("value", vital.value, max_length=200) or ""
        display = _text("display", vital.display, max_length=200) or ""
        try:
            if check_plausible(code, vital.unit, value, confirmed=confirmed):
                implausible.append(code)
        except (InvalidInput, NeedsConfirmation) as refused:
            # Name the measurement: the form shows several at once.
            raise type(refused)({"value": f"{display}: {refused.errors['value']}"}) from None
        checked.append((vital, code, display, value))
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.CREATE,
        audit_action=AuditAction.CREATE,
        section=Section.RESULTS,
        resource_type="Observation",
    )
    encounter = _encounter_of(patient, encounter_id)
    entered_at = clock.now()
    views = []
    with transaction.atomic():
        for vital, code, display, value in checked:
            observation = Observation(
                patient=patient,
                encounter=encounter,
                category=Observation.Category.VITAL_SIGNS,
                status=Observation.Status.FINAL,
                unit=vital.unit,
                effective_at=occurred_at,
                late_entry_at=entered_at,
                sensitivity=_sensitivity(""),
                recorded_by=_user(actor),
            )
            assign(observation, {"code": code, "display": display, "value": value})
            observation.save()
            record(
                action=AuditAction.CREATE,
                actor=actor,
                purpose=purpose,
                resource_type="Observation",
                resource_id=str(observation.pk),
                patient=patient,
                decision=decision,
                facts=facts,
                fields=audit_fields([Section.RESULTS]),
                detail={
                    "late_entry": True,
                    "paper_entry_id": paper_entry_id,
                    "original_time": occurred_at.astimezone(dt.UTC).isoformat(),
                    **({"implausible_confirmed": True} if code in implausible else {}),
                },
            )
            views.append(observation_view(observation))
        count_emergency_access(decision, facts)
    return views

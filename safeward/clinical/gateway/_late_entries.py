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

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import Actor, assign
from safeward.clinical.gateway._patients import note_view
from safeward.clinical.gateway._writes import _encounter_of, _sensitivity, _text, _user, _write
from safeward.clinical.models import ClinicalNote, Patient
from safeward.clinical.policy import Section
from safeward.clinical.types import InvalidInput, NoteView, SessionContext
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

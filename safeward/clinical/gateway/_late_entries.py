"""Paper records of a downtime entered into the chart as late entries
(issue 19, ADR 1412).

What a ward wrote on paper while SafeWard was down comes back into the chart
once it is up again, as a note marked as a late entry: its title and first
lines say so and carry the original time written on the paper, who did it and
the downtime period, so a reader never takes it for something written at the
time. The chart's own policy decides (the person entering it needs the same
relationship to the patient as for any note), and the CREATE event carries
`late_entry` and the continuity queue's entry id, never the content. The
second person's review is the continuity queue's (`paper_entry_verify`); for
doses from the paper MAR it also marks the doses verified here
(`paper_mar_verify`, ADR 1420)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import (
    Actor,
    assign,
    audit_fields,
    parse_id,
    plain,
    record,
    record_denied,
)
from safeward.clinical.gateway._patients import (
    administration_view,
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
from safeward.clinical.models import (
    ClinicalNote,
    MedicationAdministration,
    MedicationRequest,
    Observation,
    Patient,
)
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import (
    ADMINISTRATION_ROUTES,
    AdministrationView,
    Conflict,
    InvalidInput,
    NeedsConfirmation,
    NoteView,
    NotFound,
    ObservationView,
    SessionContext,
)
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
                    **({"implausible_confirmed": True} if code in implausible else {}),
                },
            )
            views.append(observation_view(observation))
        count_emergency_access(decision, facts)
    return views


@dataclass(frozen=True)
class PaperDose:
    """One dose written on the paper MAR: the order it was given against, the
    amount and its UCUM unit, the route (clinical.types.ADMINISTRATION_ROUTES)."""

    request_id: str
    dose: str
    dose_unit: str
    route: str


MAX_PAPER_DOSES = 20
MAX_DOSE = Decimal(100_000)


def _dose(value: str) -> str:
    try:
        amount = Decimal((value or "").strip())
    except InvalidOperation:
        raise InvalidInput({"dose": "The dose is a number, e.g. 500 or 0.5."}) from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_DOSE:
        raise InvalidInput({"dose": "The dose must be more than 0 and at most 100000."})
    return format(amount.normalize(), "f")


ORDER_REFERENCE_LENGTH = 8


def order_reference(order_id: uuid.UUID) -> str:
    """The short order number the downtime kit prints beside each active
    medication, for the paper MAR to copy (ADR 1419)."""
    return order_id.hex[:ORDER_REFERENCE_LENGTH]


def _order_of(patient: Patient, reference: str, given_at: dt.datetime) -> MedicationRequest:
    """The patient's order a paper dose was given against, by the kit's order
    number or the full id: it must exist, be this patient's, be active, and
    have been written before the dose."""
    typed = (reference or "").strip().lower().replace("-", "")
    if len(typed) < ORDER_REFERENCE_LENGTH or not all(c in "0123456789abcdef" for c in typed):
        raise InvalidInput(
            {"order": f"Give the order number from the kit ({ORDER_REFERENCE_LENGTH} characters)."}
        )
    # A patient has a handful of orders: matched here, the same way on every database.
    matches = [o for o in MedicationRequest.objects.filter(patient=patient) if o.pk.hex.startswith(typed)]
    if not matches:
        raise InvalidInput({"order": "No such medication order for this patient."})
    if len(matches) > 1:
        raise InvalidInput({"order": "Several orders start with that number: give the full order id."})
    order = matches[0]
    if order.status != MedicationRequest.Status.ACTIVE:
        raise InvalidInput({"order": f"The order is {order.get_status_display().lower()}, not active."})
    if plain(order, "authored_at") > given_at:
        raise InvalidInput({"order": "The order was written after the time on the paper."})
    return order


@entry
def paper_mar_chart(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    paper_entry_id: int,
    occurred_at: dt.datetime,
    downtime_started_at: dt.datetime,
    downtime_ended_at: dt.datetime,
    doses: list[PaperDose],
    encounter_id: str | None = None,
) -> list[AdministrationView]:
    """Doses written on the paper MAR during a downtime, as administrations
    given at `occurred_at` against the patient's active orders (ADR 1419),
    under the policy's ADMINISTER action (ADR 1420: a nurse or a prescriber
    with a care relationship, the ward's nurses included), all or none in one
    transaction. Each CREATE event carries `late_entry`, the queue entry's
    id, the order's id and the original time, never a dose."""
    if downtime_ended_at <= downtime_started_at:
        raise InvalidInput({"downtime": "A late entry belongs to a downtime that has ended."})
    if not downtime_started_at <= occurred_at <= downtime_ended_at:
        raise InvalidInput({"occurred_at": "The original time must fall within the downtime."})
    if not doses:
        raise InvalidInput({"doses": "Give at least one dose."})
    if len(doses) > MAX_PAPER_DOSES:
        raise InvalidInput({"doses": f"At most {MAX_PAPER_DOSES} doses at a time."})
    # Every dose is judged before the chart is opened: one bad dose, nothing saved.
    checked: list[tuple[PaperDose, str]] = []
    for dose in doses:
        if not dose.dose_unit or not UCUM.match(dose.dose_unit):
            raise InvalidInput({"dose_unit": "Not a valid UCUM unit (e.g. mg, g, mL, [iU])."})
        if dose.route not in dict(ADMINISTRATION_ROUTES):
            raise InvalidInput({"route": "Choose a route from the list."})
        checked.append((dose, _dose(dose.dose)))
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.ADMINISTER,
        audit_action=AuditAction.CREATE,
        resource_type="MedicationAdministration",
    )
    encounter = _encounter_of(patient, encounter_id)
    orders = [_order_of(patient, dose.request_id, occurred_at) for dose, _amount in checked]
    if any(order.sensitivity for order in orders) and not decision.include_sensitive:
        # The chart withholds a sensitive order from this person: answered as an unknown one.
        raise InvalidInput({"order": "No such medication order for this patient."})
    entered_at = clock.now()
    views = []
    with transaction.atomic():
        for (dose, amount), order in zip(checked, orders, strict=True):
            given = MedicationAdministration(
                patient=patient,
                encounter=encounter,
                request=order,
                dose_unit=dose.dose_unit,
                route=dose.route,
                late_entry_at=entered_at,
                sensitivity=order.sensitivity,
                recorded_by=_user(actor),
            )
            assign(given, {"dose": amount, "administered_at": occurred_at})
            given.save()
            record(
                action=AuditAction.CREATE,
                actor=actor,
                purpose=purpose,
                resource_type="MedicationAdministration",
                resource_id=str(given.pk),
                patient=patient,
                decision=decision,
                facts=facts,
                fields=audit_fields([Section.MEDICATIONS]),
                detail={
                    "late_entry": True,
                    "paper_entry_id": paper_entry_id,
                    "medication_request": str(order.pk),
                },
            )
            views.append(administration_view(given, plain(order, "medication")))
        count_emergency_access(decision, facts)
    return views


SECOND_PERSON = "A second person verifies a back-entered record, not the one who entered it."


@entry
def paper_mar_verify(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    paper_entry_id: int,
    administration_ids: list[str],
) -> list[AdministrationView]:
    """The second person's check of doses entered from the paper MAR (ADR
    1420): the verifier needs the same right as the one who entered them
    (policy ADMINISTER: a nurse or prescriber caring for the patient) and is
    never the one who entered them. All the entry's doses or none; one UPDATE
    event each, detail `verified` and the queue entry's id. Unknown ids, or
    doses of several patients, are NotFound (the queue holds what the gateway
    wrote)."""
    if not administration_ids:
        raise InvalidInput({"administrations": "There is no dose to verify."})
    ids = [parse_id(value) for value in administration_ids]
    rows = {
        row.pk: row
        for row in MedicationAdministration.objects.filter(pk__in=ids).only(
            "id", "patient_id", "recorded_by_id", "sensitivity"
        )
    }
    patients = {row.patient_id for row in rows.values()}
    if len(rows) != len(set(ids)) or len(patients) != 1:
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="MedicationAdministration",
            resource_id=str(ids[0]),
            patient=None,
            reason="not_found",
        )
        raise NotFound
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patients.pop(),
        action=Action.ADMINISTER,
        audit_action=AuditAction.UPDATE,
        resource_type="MedicationAdministration",
    )
    user = _user(actor)
    if user is None or any(row.recorded_by_id == user.pk for row in rows.values()):
        raise InvalidInput({"verified_by": SECOND_PERSON})
    if not decision.include_sensitive and any(row.sensitivity for row in rows.values()):
        raise InvalidInput(
            {"administrations": "Their order is withheld from you: someone on the care team verifies them."}
        )
    now = clock.now()
    with transaction.atomic():
        locked = list(
            # Only the doses are locked (PostgreSQL locks no nullable side of the recorder's join).
            MedicationAdministration.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("request", "recorded_by")
            .order_by("pk")
        )
        if any(row.verified_by_id is not None for row in locked):
            raise Conflict("These doses are verified already.")
        views = []
        for given in locked:
            given.verified_by = user
            assign(given, {"verified_at": now})
            given.save(update_fields=["verified_by", "verified_at"])
            record(
                action=AuditAction.UPDATE,
                actor=actor,
                purpose=purpose,
                resource_type="MedicationAdministration",
                resource_id=str(given.pk),
                patient=patient,
                decision=decision,
                facts=facts,
                fields=audit_fields([Section.MEDICATIONS]),
                detail={"verified": True, "paper_entry_id": paper_entry_id},
            )
            views.append(administration_view(given, plain(given.request, "medication")))
        count_emergency_access(decision, facts)
    return views

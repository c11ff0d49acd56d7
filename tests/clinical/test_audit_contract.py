"""Each gateway function's audit event is a tested contract (issue 11, item 21).

`CONTRACT` maps every public function of the gateway (`gateway.__all__`) to
its smallest permitted call, the audit events (action, resource type) that
call must write in the caller's transaction, and a refused call by someone
with no business there, which must raise and record a denied event. A new
public function without a row fails `test_every_public_function_has_a_contract`
(ADR 0547)."""

from __future__ import annotations

import datetime as dt
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import ImportedPatient, PatientInput, SessionContext, SystemActor
from safeward.identity.models import Department
from tests.clinical.conftest import IMPORTER, WARD, appointment_to_today, new_patient, relate

pytestmark = pytest.mark.django_db

TREAT, OPS = PurposeOfUse.TREATMENT, PurposeOfUse.OPERATIONS


class World:
    """The people and rows a minimal call needs, built through the gateway."""

    def __init__(self, make_user, tmp_path, settings) -> None:
        settings.VAR_DIR = tmp_path
        self.make_user = make_user
        self.ward, _ = Department.objects.get_or_create(code="ward-a", defaults={"name": "Ward A"})
        self.doctor = make_user("physician", profile=self.ward)
        self.clerk = make_user("registration_clerk")
        self.lab = make_user("lab_technician")
        self.privacy = make_user("privacy_officer")
        self.stranger = make_user("hr_officer")  # no clinical permission at all
        self.patient = new_patient()
        relate(self.doctor, self.patient, "care_team")
        self.day = clock.now().date() + dt.timedelta(days=1)
        gateway.slots_create(
            actor=self.clerk,
            session=WARD,
            department_id=self.ward.pk,
            day=self.day,
            start=dt.time(9),
            end=dt.time(10),
            minutes=30,
        )
        day = gateway.schedule_day(
            actor=self.clerk, session=WARD, purpose=OPS, department_id=self.ward.pk, day=self.day
        )
        self.slot, self.slot_two = (slot.id for slot in day)
        self.appointment = self.book(self.slot).id
        appointment_to_today(self.appointment)  # checked in on its day
        self.encounter = gateway.encounter_start(
            actor=self.clerk,
            session=WARD,
            purpose=OPS,
            patient_id=self.patient,
            kind="outpatient",
            department_id=self.ward.pk,
            attending_id=self.doctor.pk,
        ).id
        self.order = gateway.order_create(
            actor=self.doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=self.patient,
            code="2345-7",
            display="Glucose",
        ).id
        self.document = self.upload().id
        self.restriction = gateway.restriction_create(
            actor=self.clerk, session=WARD, purpose=OPS, patient_id=self.patient, kind="no_payer"
        ).id
        self.emergency = make_user("physician")  # no relationship: breaks the glass
        self.grant = self.break_glass(self.emergency).id
        # Wards (issue 12): a ward of two beds, an inpatient in the first.
        self.ward_beds = gateway.ward_create(
            actor=IMPORTER, department_id=self.ward.pk, code="a1", name="Ward A1", beds=["1", "2"]
        )
        self.bed_one, self.bed_two = (b.id for b in gateway.beds_free())
        self.inpatient = new_patient(given="Ina", family="Bed", mrn="MRN-INPATIENT")
        gateway.admission_admit(
            actor=self.clerk,
            session=WARD,
            purpose=OPS,
            patient_id=self.inpatient,
            bed_id=self.bed_one,
            attending_id=self.doctor.pk,
        )
        potassium = gateway.order_create(
            actor=self.doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=self.patient,
            code="2823-3",
            display="K",
        )
        gateway.order_result(
            actor=self.lab,
            session=WARD,
            purpose=OPS,
            patient_id=self.patient,
            order_id=potassium.id,
            value="7.2",
            unit="mmol/L",
        )
        self.notification = (
            gateway.physician_worklist(actor=self.doctor, session=WARD, purpose=TREAT).results[0].id
        )
        # corrections, amendments and pharmacist verification (issue 12)
        self.pharmacist = make_user("pharmacist")
        self.medication = gateway.medication_request_create(
            actor=self.doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=self.patient,
            medication="Amlodipine 5 mg",
        ).id
        self.condition = gateway.condition_create(
            actor=self.doctor, session=WARD, purpose=TREAT, patient_id=self.patient, code="I10", display="HTN"
        ).id
        self.allergy = gateway.allergy_create(
            actor=self.doctor, session=WARD, purpose=TREAT, patient_id=self.patient, substance="Latex"
        ).id
        self.note = gateway.note_create(
            actor=self.doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=self.patient,
            title="Day 1",
            text="Stable.",
        ).id
        self.vital = gateway.observation_record(
            actor=self.doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=self.patient,
            category="vital-signs",
            code="8867-4",
            display="Heart rate",
            value="72",
            unit="/min",
        ).id
        self.amendment = gateway.amendment_request_record(
            actor=self.clerk,
            session=WARD,
            purpose=OPS,
            patient_id=self.patient,
            request="Wrong allergy listed.",
        ).id

    def deny_amendment(self) -> Any:
        return gateway.amendment_request_deny(
            actor=self.doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=self.patient,
            request_id=self.amendment,
            reason="The entry is correct.",
        )

    def book(self, slot: str) -> Any:
        return gateway.appointment_book(
            actor=self.clerk, session=WARD, purpose=OPS, patient_id=self.patient, slot_id=slot
        )

    def upload(self, actor: Any = None) -> Any:
        content = b"%PDF-1.4 a letter"
        return gateway.document_upload(
            actor=actor or self.doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=self.patient,
            title="Letter",
            content_type="application/pdf",
            source=io.BytesIO(content),
            size=len(content),
        )

    def doctor_without_relationship(self) -> Any:
        return self.make_user("physician")

    def break_glass(self, actor: Any) -> Any:
        return gateway.break_glass_start(
            actor=actor,
            session=WARD,
            patient_id=self.patient,
            reason_kind="emergency_care",
            justification="Collapsed in the corridor, no records to hand.",
        )


@dataclass(frozen=True)
class Contract:
    call: Callable[[World], Any]
    writes: tuple[
        tuple[str, str], ...
    ]  # (action, resource type), outcome success, in the caller's transaction
    refused: Callable[[World], Any] | None = None  # the same call by someone with no business there
    refusal: str | None = None  # the action of the denied event the refusal writes


def _patient_input(family: str = "Newman") -> PatientInput:
    return PatientInput(given_name="Nora", family_name=family, birth_date=dt.date(1990, 1, 2), sex="female")


def _chart(name: str, action: str) -> Contract:
    def call(who: Callable[[World], Any]) -> Callable[[World], Any]:
        return lambda w: getattr(gateway, name)(
            actor=who(w), session=WARD, purpose=TREAT, patient_id=w.patient
        )

    return Contract(call(lambda w: w.doctor), ((action, "Chart"),), call(lambda w: w.stranger), action)


def _clinical_write(name: str, resource: str, **values: Any) -> Contract:
    def call(who: Callable[[World], Any]) -> Callable[[World], Any]:
        return lambda w: getattr(gateway, name)(
            actor=who(w), session=WARD, purpose=TREAT, patient_id=w.patient, **values
        )

    return Contract(call(lambda w: w.doctor), (("create", resource),), call(lambda w: w.stranger), "create")


def _paper_mar(who: Callable[[World], Any]) -> Callable[[World], Any]:
    """A dose from the paper MAR against the world's order, given inside a downtime that began before it."""
    return lambda w: gateway.paper_mar_chart(
        actor=who(w),
        session=WARD,
        purpose=TREAT,
        patient_id=w.patient,
        paper_entry_id=1,
        occurred_at=clock.now(),
        downtime_started_at=clock.now() - dt.timedelta(hours=1),
        downtime_ended_at=clock.now() + dt.timedelta(hours=1),
        doses=[gateway.PaperDose(request_id=str(w.medication), dose="5", dose_unit="mg", route="oral")],
    )


def _paper_mar_verify(who: Callable[[World], Any]) -> Callable[[World], Any]:
    """The world's doctor enters a paper dose; `who` verifies it as the second person."""

    def call(w: World) -> Any:
        (given,) = _paper_mar(lambda w: w.doctor)(w)
        return gateway.paper_mar_verify(
            actor=who(w), session=WARD, purpose=TREAT, paper_entry_id=1, administration_ids=[given.id]
        )

    return call


def _ward_nurse(w: World) -> Any:
    nurse = w.make_user("nurse")
    relate(nurse, w.patient, "department")
    return nurse


def _correction(name: str, resource: str, row: str, **values: Any) -> Contract:
    """A correction of the world's `row` (by its treating physician, or refused for a stranger)."""
    keyword = {"medication": "medication_id", "condition": "condition_id", "allergy": "allergy_id"}.get(
        row, "observation_id" if row == "vital" else "note_id"
    )

    def call(who: Callable[[World], Any]) -> Callable[[World], Any]:
        return lambda w: getattr(gateway, name)(
            actor=who(w),
            session=WARD,
            purpose=TREAT,
            patient_id=w.patient,
            **{keyword: getattr(w, row)},
            **values,
        )

    return Contract(call(lambda w: w.doctor), (("update", resource),), call(lambda w: w.stranger), "update")


CONTRACT: dict[str, Contract] = {
    # --- patients and charts
    "patient_search": Contract(
        lambda w: gateway.patient_search(actor=w.clerk, session=WARD, purpose=OPS, name="Quis"),
        (("search", "Patient"),),
        lambda w: gateway.patient_search(actor=w.stranger, session=WARD, purpose=OPS, name="Quis"),
        "search",
    ),
    "patient_labels": Contract(
        lambda w: gateway.patient_labels(
            actor=w.privacy, session=WARD, purpose=PurposeOfUse.AUDIT, patient_ids=[w.patient]
        ),
        (("search", "Patient"),),
        lambda w: gateway.patient_labels(
            actor=w.stranger, session=WARD, purpose=PurposeOfUse.AUDIT, patient_ids=[w.patient]
        ),
        "search",
    ),
    "patient_read": Contract(
        lambda w: gateway.patient_read(actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.patient),
        (("read", "Patient"),),
        lambda w: gateway.patient_read(actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient),
        "read",
    ),
    "patient_register": Contract(
        lambda w: gateway.patient_register(actor=w.clerk, session=WARD, purpose=OPS, data=_patient_input()),
        (("create", "Patient"),),
        lambda w: gateway.patient_register(
            actor=w.stranger, session=WARD, purpose=OPS, data=_patient_input()
        ),
        "create",
    ),
    "patient_update": Contract(
        lambda w: gateway.patient_update(
            actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.patient, data=_patient_input("Quist")
        ),
        (("update", "Patient"),),
        lambda w: gateway.patient_update(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient, data=_patient_input("Quist")
        ),
        "update",
    ),
    "patient_import": Contract(
        lambda w: gateway.patient_import(
            actor=IMPORTER,
            session=SessionContext.system(),
            record_in=ImportedPatient(patient=_patient_input()),
        ),
        (("create", "Patient"),),
    ),
    "breach_scope_identifiers": Contract(
        lambda w: gateway.breach_scope_identifiers(
            actor=w.make_user("security_officer", "auditor"),
            session=WARD,
            scope="alert",
            scope_id=1,
            patient_ids=[w.patient],
        ),
        (("export", "BreachScope"),),
        lambda w: gateway.breach_scope_identifiers(
            actor=w.stranger, session=WARD, scope="alert", scope_id=1, patient_ids=[w.patient]
        ),
        "export",
    ),
    "breach_residence": Contract(
        lambda w: gateway.breach_residence(
            actor=w.make_user("security_officer"), session=WARD, incident_id=1, patient_ids=[w.patient]
        ),
        (("read", "BreachScope"),),
        lambda w: gateway.breach_residence(
            actor=w.stranger, session=WARD, incident_id=1, patient_ids=[w.patient]
        ),
        "read",
    ),
    "breach_letter_recipients": Contract(
        lambda w: gateway.breach_letter_recipients(
            actor=w.privacy, session=WARD, incident_id=1, patient_ids=[w.patient]
        ),
        (("export", "BreachScope"),),
        lambda w: gateway.breach_letter_recipients(
            actor=w.stranger, session=WARD, incident_id=1, patient_ids=[w.patient]
        ),
        "export",
    ),
    "manifest_patient_identifiers": Contract(
        lambda w: gateway.manifest_patient_identifiers(
            actor=w.privacy, session=WARD, manifest_id=1, patient_ids=[w.patient]
        ),
        (("read", "ExportManifest"),),
        lambda w: gateway.manifest_patient_identifiers(
            actor=w.stranger, session=WARD, manifest_id=1, patient_ids=[w.patient]
        ),
        "read",
    ),
    "chart_read": _chart("chart_read", "read"),
    "chart_print": _chart("chart_print", "print"),
    "chart_export": _chart("chart_export", "export"),
    # --- clinical writes
    "note_create": _clinical_write("note_create", "ClinicalNote", title="Day 1", text="Stable."),
    "paper_entry_chart": _clinical_write(
        "paper_entry_chart",
        "ClinicalNote",
        paper_entry_id=1,
        what="Medication given",
        occurred_at=dt.datetime(2026, 10, 1, 3, 15, tzinfo=dt.UTC),
        performed_by="N. Nurse",
        downtime_started_at=dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC),
        downtime_ended_at=dt.datetime(2026, 10, 1, 6, 0, tzinfo=dt.UTC),
        text="Paracetamol 1 g by mouth.",
    ),
    "paper_vitals_chart": _clinical_write(
        "paper_vitals_chart",
        "Observation",
        paper_entry_id=1,
        occurred_at=dt.datetime(2026, 10, 1, 3, 15, tzinfo=dt.UTC),
        downtime_started_at=dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC),
        downtime_ended_at=dt.datetime(2026, 10, 1, 6, 0, tzinfo=dt.UTC),
        vitals=[gateway.PaperVital(code="8867-4", display="Heart rate", value="72", unit="/min")],
    ),
    "paper_mar_chart": Contract(
        _paper_mar(lambda w: w.doctor),
        (("create", "MedicationAdministration"),),
        _paper_mar(lambda w: w.stranger),
        "create",
    ),
    "paper_mar_verify": Contract(
        _paper_mar_verify(_ward_nurse),
        (("create", "MedicationAdministration"), ("update", "MedicationAdministration")),
        # An id the gateway never wrote (a real dose's refusals: tests/continuity/test_paper_mar.py).
        lambda w: gateway.paper_mar_verify(
            actor=w.stranger,
            session=WARD,
            purpose=TREAT,
            paper_entry_id=1,
            administration_ids=["00000000-0000-0000-0000-000000000001"],
        ),
        "update",
    ),
    "condition_create": _clinical_write("condition_create", "Condition", code="I10", display="Hypertension"),
    "allergy_create": _clinical_write("allergy_create", "AllergyIntolerance", substance="Penicillin"),
    "medication_request_create": _clinical_write(
        "medication_request_create", "MedicationRequest", medication="Amlodipine 5 mg", dosage="once daily"
    ),
    "observation_record": _clinical_write(
        "observation_record",
        "Observation",
        category="vital-signs",
        code="8867-4",
        display="Heart rate",
        value="72",
        unit="/min",
    ),
    "order_create": _clinical_write("order_create", "Observation", code="2345-7", display="Glucose"),
    "care_team_add": Contract(
        lambda w: gateway.care_team_add(
            actor=w.doctor, session=WARD, purpose=TREAT, patient_id=w.patient, user_id=w.lab.pk, role="lab"
        ),
        (("create", "CareTeamMembership"),),
        lambda w: gateway.care_team_add(
            actor=w.stranger, session=WARD, purpose=TREAT, patient_id=w.patient, user_id=w.lab.pk, role="lab"
        ),
        "create",
    ),
    "encounter_start": Contract(
        lambda w: gateway.encounter_start(
            actor=w.clerk,
            session=WARD,
            purpose=OPS,
            patient_id=w.patient,
            kind="outpatient",
            department_id=w.ward.pk,
        ),
        (("create", "Encounter"),),
        lambda w: gateway.encounter_start(
            actor=w.stranger,
            session=WARD,
            purpose=OPS,
            patient_id=w.patient,
            kind="outpatient",
            department_id=w.ward.pk,
        ),
        "create",
    ),
    "encounter_finish": Contract(
        lambda w: gateway.encounter_finish(
            actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.patient, encounter_id=w.encounter
        ),
        (("update", "Encounter"),),
        lambda w: gateway.encounter_finish(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient, encounter_id=w.encounter
        ),
        "update",
    ),
    "document_upload": Contract(
        lambda w: w.upload(),
        (("create", "Document"),),
        lambda w: w.upload(w.stranger),
        "create",
    ),
    "document_open": Contract(
        lambda w: gateway.document_open(
            actor=w.doctor, session=WARD, purpose=TREAT, patient_id=w.patient, document_id=w.document
        ),
        (("read", "Document"),),
        lambda w: gateway.document_open(
            actor=w.stranger, session=WARD, purpose=TREAT, patient_id=w.patient, document_id=w.document
        ),
        "read",
    ),
    # --- laboratory
    "lab_worklist": Contract(
        lambda w: gateway.lab_worklist(actor=w.lab, session=WARD, purpose=TREAT),
        (("read", "LabWorklist"),),
        lambda w: gateway.lab_worklist(actor=w.stranger, session=WARD, purpose=TREAT),
        "read",
    ),
    "order_result": Contract(
        lambda w: gateway.order_result(
            actor=w.lab,
            session=WARD,
            purpose=TREAT,
            patient_id=w.patient,
            order_id=w.order,
            value="97",
            unit="mg/dL",
        ),
        (("update", "Observation"),),
        lambda w: gateway.order_result(
            actor=w.stranger,
            session=WARD,
            purpose=TREAT,
            patient_id=w.patient,
            order_id=w.order,
            value="97",
            unit="mg/dL",
        ),
        "update",
    ),
    # --- scheduling
    "slots_create": Contract(
        lambda w: gateway.slots_create(
            actor=w.clerk,
            session=WARD,
            department_id=w.ward.pk,
            day=w.day + dt.timedelta(days=1),
            start=dt.time(9),
            end=dt.time(9, 30),
            minutes=30,
        ),
        (("create", "Slot"),),
    ),
    "schedule_day": Contract(
        lambda w: gateway.schedule_day(
            actor=w.clerk, session=WARD, purpose=OPS, department_id=w.ward.pk, day=w.day
        ),
        (("read", "Schedule"),),
    ),
    "appointment_book": Contract(
        lambda w: w.book(w.slot_two),
        (("create", "Appointment"),),
        lambda w: gateway.appointment_book(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient, slot_id=w.slot_two
        ),
        "create",
    ),
    "appointment_cancel": Contract(
        lambda w: gateway.appointment_cancel(
            actor=w.clerk, session=WARD, purpose=OPS, appointment_id=w.appointment
        ),
        (("update", "Appointment"),),
        lambda w: gateway.appointment_cancel(
            actor=w.stranger, session=WARD, purpose=OPS, appointment_id=w.appointment
        ),
        "update",
    ),
    "appointment_check_in": Contract(
        lambda w: gateway.appointment_check_in(
            actor=w.clerk, session=WARD, purpose=OPS, appointment_id=w.appointment
        ),
        (("update", "Appointment"),),
        lambda w: gateway.appointment_check_in(
            actor=w.stranger, session=WARD, purpose=OPS, appointment_id=w.appointment
        ),
        "update",
    ),
    # --- lists of staff and departments: no patient data, no event
    "departments_list": Contract(lambda w: gateway.departments_list(), ()),
    "clinicians_list": Contract(lambda w: gateway.clinicians_list(), ()),
    "staff_choices": Contract(lambda w: gateway.staff_choices(), ()),
    # --- patient restrictions
    "restriction_list": Contract(
        lambda w: gateway.restriction_list(actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.patient),
        (("read", "PatientRestriction"),),
        lambda w: gateway.restriction_list(actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient),
        "read",
    ),
    "restriction_create": Contract(
        lambda w: gateway.restriction_create(
            actor=w.clerk,
            session=WARD,
            purpose=OPS,
            patient_id=w.patient,
            kind="exclude_user",
            user_id=w.lab.pk,
        ),
        (("create", "PatientRestriction"),),
        lambda w: gateway.restriction_create(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient, kind="no_payer"
        ),
        "create",
    ),
    "restriction_lift": Contract(
        lambda w: gateway.restriction_lift(
            actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.patient, restriction_id=w.restriction
        ),
        (("update", "PatientRestriction"),),
        lambda w: gateway.restriction_lift(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient, restriction_id=w.restriction
        ),
        "update",
    ),
    # --- break-glass
    "break_glass_start": Contract(
        lambda w: w.break_glass(w.doctor_without_relationship()),
        (("break_glass", "BreakGlassGrant"),),
        lambda w: w.break_glass(w.stranger),
        "break_glass",
    ),
    "page_banners": Contract(
        lambda w: gateway.page_banners(actor=w.emergency, break_glass=True, results=True), ()
    ),
    "break_glass_end": Contract(
        lambda w: gateway.break_glass_end(actor=w.emergency, grant_id=w.grant),
        (("break_glass", "BreakGlassGrant"),),
    ),
    "break_glass_end_for_user": Contract(
        lambda w: gateway.break_glass_end_for_user(user=w.emergency, reason="account disabled"),
        (("break_glass", "BreakGlassGrant"),),
    ),
    "break_glass_review_queue": Contract(
        lambda w: gateway.break_glass_review_queue(actor=w.privacy, session=WARD),
        (("read", "BreakGlassGrant"),),
        lambda w: gateway.break_glass_review_queue(actor=w.stranger, session=WARD),
        "read",
    ),
    "break_glass_review": Contract(
        lambda w: gateway.break_glass_review(actor=w.privacy, session=WARD, grant_id=w.grant, justified=True),
        (("update", "BreakGlassGrant"),),
        lambda w: gateway.break_glass_review(
            actor=w.stranger, session=WARD, grant_id=w.grant, justified=True
        ),
        "update",
    ),
    # --- corrections and amendments (issue 12)
    "medication_discontinue": _correction(
        "medication_discontinue", "MedicationRequest", "medication", reason="No longer needed."
    ),
    "condition_resolve": _correction("condition_resolve", "Condition", "condition"),
    "allergy_set_status": _correction(
        "allergy_set_status", "AllergyIntolerance", "allergy", status="inactive"
    ),
    "result_correct": _correction(
        "result_correct", "Observation", "vital", value="75", unit="/min", reason="Transcription error."
    ),
    "note_amend": _correction(
        "note_amend", "ClinicalNote", "note", title="Day 1", text="Stable, afebrile.", reason="Incomplete."
    ),
    "amendment_request_record": Contract(
        lambda w: gateway.amendment_request_record(
            actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.patient, request="Address is wrong."
        ),
        (("create", "AmendmentRequest"),),
        lambda w: gateway.amendment_request_record(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.patient, request="Address is wrong."
        ),
        "create",
    ),
    "amendment_request_deny": Contract(
        lambda w: w.deny_amendment(),
        (("update", "AmendmentRequest"),),
        lambda w: gateway.amendment_request_deny(
            actor=w.stranger,
            session=WARD,
            purpose=TREAT,
            patient_id=w.patient,
            request_id=w.amendment,
            reason="No.",
        ),
        "update",
    ),
    "amendment_disagreement_attach": Contract(
        lambda w: (
            w.deny_amendment(),
            gateway.amendment_disagreement_attach(
                actor=w.clerk,
                session=WARD,
                purpose=OPS,
                patient_id=w.patient,
                request_id=w.amendment,
                statement="I never had that allergy.",
            ),
        ),
        (("update", "AmendmentRequest"), ("update", "AmendmentRequest")),
        lambda w: gateway.amendment_disagreement_attach(
            actor=w.stranger,
            session=WARD,
            purpose=OPS,
            patient_id=w.patient,
            request_id=w.amendment,
            statement="I disagree.",
        ),
        "update",
    ),
    # --- pharmacy
    "medication_orders_to_verify": Contract(
        lambda w: gateway.medication_orders_to_verify(actor=w.pharmacist, session=WARD, purpose=TREAT),
        (("read", "MedicationWorklist"),),
        lambda w: gateway.medication_orders_to_verify(actor=w.stranger, session=WARD, purpose=TREAT),
        "read",
    ),
    "medication_verify": Contract(
        lambda w: gateway.medication_verify(
            actor=w.pharmacist,
            session=WARD,
            purpose=TREAT,
            patient_id=w.patient,
            medication_id=w.medication,
            outcome="verified",
        ),
        (("update", "MedicationRequest"),),
        lambda w: gateway.medication_verify(
            actor=w.stranger,
            session=WARD,
            purpose=TREAT,
            patient_id=w.patient,
            medication_id=w.medication,
            outcome="verified",
        ),
        "update",
    ),
    # --- wards, admissions, worklists, result notifications (issue 12)
    "wards_list": Contract(lambda w: gateway.wards_list(), ()),
    "beds_free": Contract(lambda w: gateway.beds_free(), ()),
    "admission_clinicians": Contract(lambda w: gateway.admission_clinicians(), ()),
    "ward_create": Contract(
        lambda w: gateway.ward_create(
            actor=IMPORTER, department_id=w.ward.pk, code="a2", name="A2", beds=["1"]
        ),
        (("create", "Ward"),),
        lambda w: gateway.ward_create(
            actor=w.stranger, department_id=w.ward.pk, code="a2", name="A2", beds=["1"]
        ),
        "create",
    ),
    "ward_beds": Contract(lambda w: gateway.ward_beds(ward_id=w.ward_beds.id), ()),
    "ward_update": Contract(
        lambda w: gateway.ward_update(
            actor=IMPORTER, ward_id=w.ward_beds.id, name="Renamed", add_beds=["spare"], remove_beds=[]
        ),
        (("update", "Ward"),),
        lambda w: gateway.ward_update(
            actor=w.stranger, ward_id=w.ward_beds.id, name="Renamed", add_beds=["spare"], remove_beds=[]
        ),
        "update",
    ),
    "downtime_kit": Contract(
        lambda w: gateway.downtime_kit(actor=SystemActor(gateway.KIT_ACTOR), ward_id=w.ward_beds.id),
        (("disclose", "DowntimeKit"),),
        lambda w: gateway.downtime_kit(actor=w.stranger, ward_id=w.ward_beds.id),
        "disclose",
    ),
    "ward_census": Contract(
        lambda w: gateway.ward_census(actor=w.clerk, session=WARD, purpose=OPS, ward_id=w.ward_beds.id),
        (("read", "WardCensus"),),
        lambda w: gateway.ward_census(actor=w.stranger, session=WARD, purpose=OPS, ward_id=w.ward_beds.id),
        "read",
    ),
    "admission_current": Contract(
        lambda w: gateway.admission_current(actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.inpatient),
        (("read", "Admission"),),
        lambda w: gateway.admission_current(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.inpatient
        ),
        "read",
    ),
    "admission_desk": Contract(
        lambda w: gateway.admission_desk(actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.inpatient),
        (("read", "Admission"),),
        lambda w: gateway.admission_desk(actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.inpatient),
        "read",
    ),
    "admission_admit": Contract(
        lambda w: gateway.admission_admit(
            actor=w.clerk,
            session=WARD,
            purpose=OPS,
            patient_id=w.patient,
            bed_id=w.bed_two,
            attending_id=w.doctor.pk,
        ),
        (("create", "Encounter"),),
        lambda w: gateway.admission_admit(
            actor=w.stranger,
            session=WARD,
            purpose=OPS,
            patient_id=w.patient,
            bed_id=w.bed_two,
            attending_id=w.doctor.pk,
        ),
        "create",
    ),
    "admission_transfer": Contract(
        lambda w: gateway.admission_transfer(
            actor=w.clerk, session=WARD, purpose=OPS, patient_id=w.inpatient, bed_id=w.bed_two
        ),
        (("update", "Encounter"),),
        lambda w: gateway.admission_transfer(
            actor=w.stranger, session=WARD, purpose=OPS, patient_id=w.inpatient, bed_id=w.bed_two
        ),
        "update",
    ),
    "physician_worklist": Contract(
        lambda w: gateway.physician_worklist(actor=w.doctor, session=WARD, purpose=TREAT),
        (("read", "Worklist"),),
        lambda w: gateway.physician_worklist(actor=w.stranger, session=WARD, purpose=TREAT),
        "read",
    ),
    "arrivals_today": Contract(
        lambda w: gateway.arrivals_today(actor=w.clerk, session=WARD, purpose=OPS),
        (("read", "Worklist"),),
        lambda w: gateway.arrivals_today(actor=w.stranger, session=WARD, purpose=OPS),
        "read",
    ),
    "result_notification_acknowledge": Contract(
        lambda w: gateway.result_notification_acknowledge(
            actor=w.doctor, session=WARD, purpose=TREAT, notification_id=w.notification
        ),
        (("update", "ResultNotification"),),
        lambda w: gateway.result_notification_acknowledge(
            actor=w.stranger, session=WARD, purpose=TREAT, notification_id=w.notification
        ),
        "update",
    ),
    # --- the visitor desk (issue 15): an inpatient by both names, then the visit
    "visitor_patient_lookup": Contract(
        lambda w: gateway.visitor_patient_lookup(
            actor=w.make_user("security_desk"), session=WARD, given_name="Ina", family_name="Bed"
        ),
        (("search", "VisitorLookup"),),
        lambda w: gateway.visitor_patient_lookup(
            actor=w.stranger, session=WARD, given_name="Ina", family_name="Bed"
        ),
        "search",
    ),
    "visitor_patient_visit": Contract(
        lambda w: gateway.visitor_patient_visit(
            actor=w.make_user("security_desk"), session=WARD, patient_id=w.inpatient, visitor_id=1
        ),
        (("read", "PatientVisit"),),
        lambda w: gateway.visitor_patient_visit(
            actor=w.stranger, session=WARD, patient_id=w.inpatient, visitor_id=1
        ),
        "read",
    ),
    # --- detection's facts: an event only when patient data was compared
    "detection_patients_known": Contract(
        lambda w: gateway.detection_patients_known(patient_ids=[w.patient]), ()
    ),
    "detection_access_facts": Contract(
        lambda w: gateway.detection_access_facts(
            queries=[gateway.AccessQuery(user_id=w.stranger.pk, patient_id=w.patient, at=clock.now())]
        ),
        (("execute", "DetectionFacts"),),
    ),
    # --- PHI discovery: keyed hashes in, patient ids out
    "discovery_match": Contract(
        lambda w: gateway.discovery_match(
            actor=w.privacy, session=WARD, scan_ref="scan:1:file:0", probes={"mrn": [bytes(16)]}
        ),
        (("search", "PhiDiscovery"),),
        lambda w: gateway.discovery_match(
            actor=w.stranger, session=WARD, scan_ref="scan:1:file:0", probes={"mrn": [bytes(16)]}
        ),
        "search",
    ),
}


def _public_functions() -> list[str]:
    return sorted(name for name in gateway.__all__ if inspect.isfunction(getattr(gateway, name)))


def test_every_public_function_has_a_contract():
    assert sorted(CONTRACT) == _public_functions()


@pytest.fixture
def world(make_user, tmp_path, settings):
    return World(make_user, tmp_path, settings)


def _events_since(last: int) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(pk__gt=last)
        .order_by("pk")
        .values_list("action", "resource_type", "outcome")
    )


def _last_event() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_the_call_writes_its_audit_events_in_the_callers_transaction(world, name):
    contract = CONTRACT[name]
    before = _last_event()
    with transaction.atomic():
        contract.call(world)
        written = _events_since(before)
        transaction.set_rollback(True)
    assert sorted(written) == sorted((action, kind, "success") for action, kind in contract.writes)
    # Rolled back with the caller's work: the events were in its transaction.
    assert _events_since(before) == []


@pytest.mark.parametrize("name", sorted(n for n, c in CONTRACT.items() if c.refused is not None))
def test_a_refused_call_raises_and_records_a_denied_event(world, name):
    contract = CONTRACT[name]
    assert contract.refused is not None
    before = _last_event()
    with pytest.raises((gateway.NotFound, gateway.Forbidden)):
        contract.refused(world)
    written = _events_since(before)
    assert (contract.refusal, "denied") in {(action, outcome) for action, _kind, outcome in written}
    assert all(outcome == "denied" for _action, _kind, outcome in written)

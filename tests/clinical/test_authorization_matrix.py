"""The authorization matrix: every clinical URL pattern x every role x
every relationship case, through the real views, compared with the decision
table (docs/clinical-policy.md, via the same helpers as
test_policy_table.py). The list of URLs comes from the URLconf: a new
clinical route without a rule here fails the suite.

One test walks the whole matrix (one user per role, signed in once) and
reports every mismatch at the end, so the suite stays fast."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.policy import Section
from safeward.clinical.types import Conflict, SessionContext
from safeward.identity.permissions import Perm
from safeward.identity.roles import CATALOG
from tests.clinical.conftest import IMPORTER, WARD, appointment_to_today, new_patient, relate
from tests.clinical.test_policy_table import read_cell, write_cell
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RELATIONSHIPS = ["care_team", "attending", "department", "appointment_today", "none"]
RANDOM_ID = "00000000-0000-4000-8000-00000000abcd"


def clinical_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, p.namespace or namespace)
            elif isinstance(p, URLPattern) and namespace == "clinical":
                names.add(p.name)

    walk(get_resolver().url_patterns, None)
    return names


@dataclass
class Case:
    role: str
    perms: frozenset[str]
    relationship: str
    patient: str
    client: Client


def _needs(perm: Perm, then: Callable[[Case], int]) -> Callable[[Case], int]:
    return lambda case: then(case) if perm.value in case.perms else 403


def _read(case: Case) -> int:
    return 200 if read_cell(case.role, case.relationship, "normal").startswith("permit") else 404


def _write(section: Section) -> Callable[[Case], int]:
    return lambda case: 302 if write_cell(case.role, section, case.relationship) == "permit" else 404


def _post(path: str, data: dict | None = None) -> Callable[[Case], object]:
    return lambda case: case.client.post(path.format(p=case.patient), data or {})


def _book(case: Case):
    from safeward.identity.models import Department

    clinic, _ = Department.objects.get_or_create(code="matrix-clinic", defaults={"name": "Matrix clinic"})
    day = clock.now().date() + dt.timedelta(days=2)
    gateway.slots_create(
        actor=ADMIN[0],
        session=WARD,
        department_id=clinic.pk,
        day=day,
        start=dt.time(8),
        end=dt.time(20),
        minutes=5,
    )
    slots = gateway.schedule_day(
        actor=ADMIN[0], session=WARD, purpose=PurposeOfUse.OPERATIONS, department_id=clinic.pk, day=day
    )
    free = next(s for s in slots if s.appointment is None)
    return case.client.post(
        reverse("clinical:book"), {"submission": uuid.uuid4().hex, "patient": case.patient, "slot": free.id}
    )


def _appointment(check_in: bool):
    def run(case: Case):
        from safeward.identity.models import Department

        clinic, _ = Department.objects.get_or_create(code="matrix-clinic", defaults={"name": "Matrix clinic"})
        day = clock.now().date() + dt.timedelta(days=4 if check_in else 3)
        gateway.slots_create(
            actor=ADMIN[0],
            session=WARD,
            department_id=clinic.pk,
            day=day,
            start=dt.time(8),
            end=dt.time(20),
            minutes=5,
        )
        slots = gateway.schedule_day(
            actor=ADMIN[0], session=WARD, purpose=PurposeOfUse.OPERATIONS, department_id=clinic.pk, day=day
        )
        free = next(s for s in slots if s.appointment is None)
        appointment = gateway.appointment_book(
            actor=ADMIN[0],
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            patient_id=case.patient,
            slot_id=free.id,
        )
        if check_in:
            appointment_to_today(appointment.id)  # a check-in happens on the appointment's day
        name = "clinical:appointment_check_in" if check_in else "clinical:appointment_cancel"
        return case.client.post(reverse(name, args=[appointment.id]))

    return run


def _pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("letter.pdf", b"%PDF-1.4\n%matrix\n", content_type="application/pdf")


def _order_result(case: Case):
    order = gateway.order_create(
        actor=IMPORTER,
        session=SessionContext.system(),
        purpose=PurposeOfUse.TREATMENT,
        patient_id=case.patient,
        code="2823-3",
        display="Potassium",
    )
    return case.client.post(
        reverse("clinical:order_result", args=[case.patient, order.id]),
        {"submission": uuid.uuid4().hex, "value": "4.2", "unit": "mmol/L"},
    )


def _discharge(case: Case):
    from safeward.identity.models import Department

    ward, _ = Department.objects.get_or_create(code="matrix-ward", defaults={"name": "Matrix ward"})
    encounter = gateway.encounter_start(
        actor=ADMIN[0],
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=case.patient,
        kind="outpatient",
        department_id=ward.pk,
    )
    return case.client.post(reverse("clinical:encounter_discharge", args=[case.patient, encounter.id]))


def _encounter_start(case: Case):
    from safeward.identity.models import Department

    ward, _ = Department.objects.get_or_create(code="matrix-ward", defaults={"name": "Matrix ward"})
    return case.client.post(
        reverse("clinical:encounter_add", args=[case.patient]),
        {"submission": uuid.uuid4().hex, "kind": "outpatient", "department": ward.pk},
    )


def _lift(case: Case):
    from safeward.identity.models import Department

    # A department nobody works in: the restriction changes no decision of the matrix.
    elsewhere, _ = Department.objects.get_or_create(code="matrix-nobody", defaults={"name": "Nobody's"})
    restriction = gateway.restriction_create(
        actor=ADMIN[0],
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=case.patient,
        kind="exclude_department",
        department_id=elsewhere.pk,
    )
    return case.client.post(reverse("clinical:restriction_lift", args=[case.patient, restriction.id]))


def _matrix_ward() -> str:
    from safeward.identity.models import Department

    if not WARDS:
        department, _ = Department.objects.get_or_create(
            code="matrix-inpatient", defaults={"name": "Inpatient"}
        )
        ward = gateway.ward_create(
            actor=IMPORTER,
            department_id=department.pk,
            code="matrix",
            name="Matrix",
            beds=[str(n) for n in range(200)],
        )
        WARDS.append(ward.id)
    return WARDS[0]


def _free_bed() -> str:
    _matrix_ward()
    return gateway.beds_free()[0].id


def _admit(case: Case):
    return case.client.post(
        reverse("clinical:admission", args=[case.patient]),
        {"submission": uuid.uuid4().hex, "bed": _free_bed(), "attending": ADMIN[1].pk},
    )


def _transfer(case: Case):
    if gateway.admission_current(actor=ADMIN[0], session=WARD, purpose=OPS, patient_id=case.patient) is None:
        # The "attending" case already lies in an inpatient encounter without a bed.
        with contextlib.suppress(Conflict):
            gateway.admission_admit(
                actor=ADMIN[0],
                session=WARD,
                purpose=OPS,
                patient_id=case.patient,
                bed_id=_free_bed(),
                attending_id=ADMIN[1].pk,
            )
    return case.client.post(
        reverse("clinical:admission_transfer", args=[case.patient]),
        {"submission": uuid.uuid4().hex, "bed": _free_bed()},
    )


def _admitted(then: Callable[[Case], int]) -> Callable[[Case], int]:
    """The "attending" case has an open inpatient encounter (tests/clinical/conftest.relate):
    a second admission, and a transfer of a stay without a bed, are refused (409)."""
    return lambda case: 409 if case.relationship == "attending" else then(case)


def _discharge_expected(case: Case) -> int:
    """Policy action DISCHARGE: the ADT desk always (administrative); a
    clinician with `clinical:encounter:discharge` only with a relationship."""
    if Perm.CLINICAL_APPOINTMENT_MANAGE.value in case.perms:
        return 302 if write_cell(case.role, Section.ENCOUNTERS, case.relationship) == "permit" else 404
    return 302 if case.relationship != "none" else 404


def _note_data():
    return {"submission": uuid.uuid4().hex, "kind": "progress", "title": "T", "text": "Matrix note"}


# --- corrections, amendments, pharmacist verification (issue 12) ------------------------------
SYSTEM: dict[str, Any] = {
    "actor": IMPORTER,
    "session": SessionContext.system(),
    "purpose": PurposeOfUse.TREATMENT,
}


def _medication(case: Case) -> str:
    return gateway.medication_request_create(
        **SYSTEM, patient_id=case.patient, medication="Amlodipine 5 mg"
    ).id


def _discontinue(case: Case):
    path = reverse("clinical:medication_discontinue", args=[case.patient, _medication(case)])
    return case.client.post(path, {"submission": uuid.uuid4().hex, "reason": "Matrix"})


def _problem_status(case: Case):
    condition = gateway.condition_create(**SYSTEM, patient_id=case.patient, code="I10", display="HTN").id
    path = reverse("clinical:problem_status", args=[case.patient, condition])
    return case.client.post(path, {"submission": uuid.uuid4().hex, "status": "resolved"})


def _allergy_status(case: Case):
    allergy = gateway.allergy_create(**SYSTEM, patient_id=case.patient, substance="Latex").id
    path = reverse("clinical:allergy_status", args=[case.patient, allergy])
    return case.client.post(path, {"submission": uuid.uuid4().hex, "status": "inactive"})


def _note_amend(case: Case):
    # Written by somebody else (the import): nobody but its author may amend it.
    note = gateway.note_create(**SYSTEM, patient_id=case.patient, title="T", text="Imported note").id
    path = reverse("clinical:note_amend", args=[case.patient, note])
    return case.client.post(path, {**_note_data(), "reason": "Matrix"})


def _result_correct(case: Case):
    result = gateway.observation_record(
        **SYSTEM,
        patient_id=case.patient,
        category="laboratory",
        code="2823-3",
        display="Potassium",
        value="4.2",
        unit="mmol/L",
    ).id
    path = reverse("clinical:result_correct", args=[case.patient, result])
    return case.client.post(
        path, {"submission": uuid.uuid4().hex, "value": "4.4", "unit": "mmol/L", "reason": "Matrix"}
    )


def _amendment_request(case: Case) -> str:
    return gateway.amendment_request_record(
        actor=ADMIN[0],
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=case.patient,
        request="Matrix",
    ).id


def _amendment_deny(case: Case):
    path = reverse("clinical:amendment_deny", args=[case.patient, _amendment_request(case)])
    return case.client.post(path, {"submission": uuid.uuid4().hex, "reason": "Correct as recorded"})


def _amendment_disagreement(case: Case):
    # A pending request: anyone allowed is told it is not denied yet (409).
    path = reverse("clinical:amendment_disagreement", args=[case.patient, _amendment_request(case)])
    return case.client.post(path, {"submission": uuid.uuid4().hex, "statement": "I disagree"})


def _medication_verify(case: Case):
    path = reverse("clinical:medication_verify", args=[case.patient, _medication(case)])
    return case.client.post(path, {"submission": uuid.uuid4().hex, "outcome": "verified"})


def _read_then(status: Callable[[Case], int]) -> Callable[[Case], int]:
    """Pages that open the chart first: not found unless the chart may be read."""
    return lambda case: status(case) if _read(case) == 200 else 404


def _note_amend_expected(case: Case) -> int:
    return 403 if write_cell(case.role, Section.NOTES, case.relationship) == "permit" else 404


def _amendment_disagreement_expected(case: Case) -> int:
    return 409 if write_cell(case.role, Section.DEMOGRAPHICS, case.relationship) == "permit" else 404


# url name -> (request, expected status)
RULES: dict[str, tuple[Callable[[Case], object], Callable[[Case], int]]] = {
    "search": (
        lambda c: c.client.post("/clinical/", {"name": "quist"}),
        _needs(Perm.CLINICAL_PATIENT_READ, lambda c: 200),
    ),
    "register": (
        lambda c: c.client.get("/clinical/patients/new/"),
        _needs(Perm.CLINICAL_PATIENT_REGISTER, lambda c: 200),
    ),
    "chart": (
        lambda c: c.client.get(f"/clinical/patients/{c.patient}/"),
        _needs(Perm.CLINICAL_PATIENT_READ, _read),
    ),
    "chart_print": (
        lambda c: c.client.get(f"/clinical/patients/{c.patient}/print/"),
        _needs(Perm.CLINICAL_PATIENT_READ, _read),
    ),
    "note_add": (
        lambda c: c.client.post(f"/clinical/patients/{c.patient}/notes/", _note_data()),
        _needs(Perm.CLINICAL_NOTE_WRITE, _write(Section.NOTES)),
    ),
    "problem_add": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/problems/",
            {"submission": uuid.uuid4().hex, "code": "I10", "display": "HTN"},
        ),
        _needs(Perm.CLINICAL_CHART_WRITE, _write(Section.PROBLEMS)),
    ),
    "allergy_add": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/allergies/",
            {"submission": uuid.uuid4().hex, "substance": "Latex", "criticality": "low"},
        ),
        _needs(Perm.CLINICAL_CHART_WRITE, _write(Section.ALLERGIES)),
    ),
    "vitals_add": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/vitals/",
            {"submission": uuid.uuid4().hex, "vital": "8867-4|Heart rate|/min", "value": "70"},
        ),
        _needs(Perm.CLINICAL_CHART_WRITE, _write(Section.RESULTS)),
    ),
    "medication_add": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/medications/",
            {"submission": uuid.uuid4().hex, "medication": "Aspirin"},
        ),
        _needs(Perm.CLINICAL_MEDICATION_PRESCRIBE, _write(Section.MEDICATIONS)),
    ),
    # A document id that is not this patient's: never found, whatever the relationship.
    "document": (
        lambda c: c.client.get(f"/clinical/patients/{c.patient}/documents/{RANDOM_ID}/"),
        _needs(Perm.CLINICAL_CHART_READ, lambda c: 404),
    ),
    "document_upload": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/documents/",
            {"submission": uuid.uuid4().hex, "title": "Letter", "file": _pdf()},
        ),
        _needs(Perm.CLINICAL_CHART_WRITE, _write(Section.DOCUMENTS)),
    ),
    "order_add": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/orders/", {"submission": uuid.uuid4().hex, "test": "718-7"}
        ),
        _needs(Perm.CLINICAL_ORDER_WRITE, _write(Section.ORDERS)),
    ),
    "lab_worklist": (
        lambda c: c.client.get("/clinical/lab/"),
        _needs(Perm.CLINICAL_RESULT_WRITE, lambda c: 200),
    ),
    "order_result": (_order_result, _needs(Perm.CLINICAL_RESULT_WRITE, _write(Section.RESULTS))),
    "encounter_add": (_encounter_start, _needs(Perm.CLINICAL_APPOINTMENT_MANAGE, _write(Section.ENCOUNTERS))),
    "encounter_discharge": (_discharge, _needs(Perm.CLINICAL_ENCOUNTER_DISCHARGE, _discharge_expected)),
    # --- wards and admissions (issue 12)
    "wards": (lambda c: c.client.get("/clinical/wards/"), _needs(Perm.CLINICAL_CENSUS_READ, lambda c: 200)),
    "ward_census": (
        lambda c: c.client.get(reverse("clinical:ward_census", args=[_matrix_ward()])),
        _needs(Perm.CLINICAL_CENSUS_READ, lambda c: 200),
    ),
    # The operator's wards-and-beds pages: hospital structure, no PHI (ADR 0583).
    "ward_setup": (
        lambda c: c.client.get("/clinical/wards/setup/"),
        _needs(Perm.FACILITY_WARD_MANAGE, lambda c: 200),
    ),
    "ward_edit": (
        lambda c: c.client.get(reverse("clinical:ward_edit", args=[_matrix_ward()])),
        _needs(Perm.FACILITY_WARD_MANAGE, lambda c: 200),
    ),
    "result_acknowledge": (
        lambda c: c.client.post(f"/clinical/results/notifications/{RANDOM_ID}/acknowledge/"),
        _needs(Perm.CLINICAL_RESULT_READ, lambda c: 404),
    ),
    "restriction_add": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/restrictions/",
            {"submission": uuid.uuid4().hex, "kind": "no_payer", "note": "Self-pay"},
        ),
        _needs(Perm.CLINICAL_PATIENT_REGISTER, _write(Section.DEMOGRAPHICS)),
    ),
    "restriction_lift": (_lift, _needs(Perm.CLINICAL_PATIENT_REGISTER, _write(Section.DEMOGRAPHICS))),
    "break_glass": (
        lambda c: c.client.get(f"/clinical/patients/{c.patient}/break-glass/"),
        _needs(Perm.CLINICAL_BREAKGLASS_USE, lambda c: 200),
    ),
    "break_glass_end": (
        lambda c: c.client.post(f"/clinical/break-glass/{RANDOM_ID}/end/"),
        _needs(Perm.CLINICAL_BREAKGLASS_USE, lambda c: 404),
    ),
    "review_queue": (  # the review history: the privacy officer, and the auditor read-only
        lambda c: c.client.get("/clinical/break-glass/review/"),
        _needs(Perm.AUDIT_REVIEW_READ, lambda c: 200),
    ),
    "review_decide": (
        lambda c: c.client.post(f"/clinical/break-glass/review/{RANDOM_ID}/", {"decision": "justified"}),
        _needs(Perm.CLINICAL_BREAKGLASS_REVIEW, lambda c: 404),
    ),
    "disclosure_lookup": (
        lambda c: c.client.post("/clinical/disclosures/find/", {"mrn": "MATRIX-NOBODY"}),
        _needs(Perm.AUDIT_DISCLOSURE_READ, lambda c: 200),
    ),
    "schedule": (
        lambda c: c.client.get("/clinical/schedule/"),
        _needs(Perm.CLINICAL_APPOINTMENT_READ, lambda c: 200),
    ),
    "book": (_book, _needs(Perm.CLINICAL_APPOINTMENT_MANAGE, _write(Section.APPOINTMENTS))),
    "appointment_cancel": (
        _appointment(False),
        _needs(Perm.CLINICAL_APPOINTMENT_MANAGE, _write(Section.APPOINTMENTS)),
    ),
    "appointment_check_in": (
        _appointment(True),
        _needs(Perm.CLINICAL_APPOINTMENT_MANAGE, _write(Section.APPOINTMENTS)),
    ),
    "patient_edit": (
        lambda c: c.client.get(f"/clinical/patients/{c.patient}/edit/"),
        _needs(Perm.CLINICAL_PATIENT_REGISTER, _read),
    ),
    "note_amend": (_note_amend, _needs(Perm.CLINICAL_NOTE_WRITE, _read_then(_note_amend_expected))),
    "medication_discontinue": (
        _discontinue,
        _needs(Perm.CLINICAL_MEDICATION_PRESCRIBE, _write(Section.MEDICATIONS)),
    ),
    "problem_status": (_problem_status, _needs(Perm.CLINICAL_CHART_WRITE, _write(Section.PROBLEMS))),
    "allergy_status": (_allergy_status, _needs(Perm.CLINICAL_CHART_WRITE, _write(Section.ALLERGIES))),
    "result_correct": (
        _result_correct,
        _needs(Perm.CLINICAL_RESULT_WRITE, _read_then(_write(Section.RESULTS))),
    ),
    "amendment_add": (
        lambda c: c.client.post(
            f"/clinical/patients/{c.patient}/amendments/",
            {"submission": uuid.uuid4().hex, "request": "Matrix"},
        ),
        _needs(Perm.CLINICAL_PATIENT_REGISTER, _write(Section.DEMOGRAPHICS)),
    ),
    "amendment_deny": (_amendment_deny, _needs(Perm.CLINICAL_AMENDMENT_DECIDE, _write(Section.NOTES))),
    "amendment_disagreement": (
        _amendment_disagreement,
        _needs(Perm.CLINICAL_PATIENT_REGISTER, _amendment_disagreement_expected),
    ),
    "pharmacy_worklist": (
        lambda c: c.client.get("/clinical/pharmacy/"),
        _needs(Perm.CLINICAL_MEDICATION_DISPENSE, lambda c: 200),
    ),
    "medication_verify": (
        _medication_verify,
        _needs(Perm.CLINICAL_MEDICATION_DISPENSE, _read_then(lambda c: 302)),
    ),
    # Last: admitting makes the admitting nurse a care-team member, which
    # would change the relationship every later row is decided on.
    "admission": (_admit, _needs(Perm.CLINICAL_APPOINTMENT_MANAGE, _admitted(_write(Section.ENCOUNTERS)))),
    "admission_transfer": (
        _transfer,
        _needs(Perm.CLINICAL_APPOINTMENT_MANAGE, _admitted(_write(Section.ENCOUNTERS))),
    ),
}

ADMIN: list = []  # [a registration clerk, a physician to be attending]
WARDS: list = []
OPS = PurposeOfUse.OPERATIONS


def test_every_clinical_route_has_a_rule():
    assert clinical_url_names() == set(RULES), "add a rule to RULES for every clinical URL"


def test_matrix(client, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the document uploads
    # Every role signs in once at the start; on a busy machine the matrix runs
    # longer than the 5-minute step-up window that break-glass needs.
    settings.SAFEWARD_STEP_UP_MINUTES = 60
    ADMIN[:] = [
        UserFactory(roles=["registration_clerk"], totp_secret=True),
        UserFactory(roles=["physician"], totp_secret=True),
    ]
    WARDS.clear()
    cases = []
    for spec in CATALOG:
        user = UserFactory(roles=[spec.code], totp_secret=True)
        role_client = Client()
        sign_in(role_client, user)
        perms = frozenset(p.value for p in spec.permissions)
        for relationship in RELATIONSHIPS:
            patient = new_patient(family="Quist", given=f"{spec.code}-{relationship}")
            relate(user, patient, relationship)
            cases.append(Case(spec.code, perms, relationship, patient, role_client))
    mismatches = []
    for name, (request, expected) in RULES.items():
        for case in cases:
            status = request(case).status_code
            want = expected(case)
            if status != want:
                mismatches.append(
                    f"{name} as {case.role} ({case.relationship}): got {status}, table says {want}"
                )
    assert not mismatches, "\n".join(mismatches)


def test_changing_the_id_never_reveals_another_patient(signed_in):
    client, doctor = signed_in("physician")
    mine = new_patient(given="Mine", family="Ownpatient")
    relate(doctor, mine, "care_team")
    theirs = new_patient(given="Theirs", family="Otherpatient")
    for path in ("/clinical/patients/{}/", "/clinical/patients/{}/print/"):
        assert client.get(path.format(mine)).status_code == 200
        response = client.get(path.format(theirs))
        assert response.status_code == 404
        assert b"Otherpatient" not in response.content
    for bad in ("not-a-uuid", "../../etc", RANDOM_ID.upper()):
        assert client.get(f"/clinical/patients/{bad}/").status_code == 404


def test_sensitive_items_follow_the_table(signed_in, make_user):
    """A sensitive note shows only where the table says permit+S."""
    writer = make_user("physician")
    for relationship in ("care_team", "department"):
        client, reader = signed_in("nurse")
        patient = new_patient(given="Sens", family=f"Itive{relationship}")
        relate(writer, patient, "care_team")
        relate(reader, patient, relationship)
        for text, sensitivity in (("PLAIN-NOTE", ""), ("HIV-NOTE", "hiv")):
            gateway.note_create(
                actor=writer,
                session=WARD,
                purpose=PurposeOfUse.TREATMENT,
                patient_id=patient,
                title="n",
                text=text,
                sensitivity=sensitivity,
            )
        body = client.get(f"/clinical/patients/{patient}/").content.decode()
        expects_sensitive = read_cell("nurse", relationship, "normal") == "permit+S"
        assert "PLAIN-NOTE" in body
        assert ("HIV-NOTE" in body) is expects_sensitive
        assert ("sensitive item(s) are not shown" in body) is not expects_sensitive

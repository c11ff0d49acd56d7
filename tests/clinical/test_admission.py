"""Admission, transfer and discharge with wards and beds, the census, the
care team an admission builds, critical-result notifications and the
worklists on the home page (issue 12). Every refusal is tested: a double
admission, an occupied bed, a discharge of a patient not admitted, a
non-physician attending, a non-clinical department."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import Conflict, Forbidden, InvalidInput, NotFound, SessionContext, SystemActor
from safeward.identity.models import Department, StaffProfile
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

OPS, TREAT = PurposeOfUse.OPERATIONS, PurposeOfUse.TREATMENT
CLI = SystemActor("cli")


def client_for(make_user, *roles: str, **kwargs):
    user = make_user(*roles, **kwargs)
    client = Client()
    sign_in(client, user)
    return client, user


@pytest.fixture
def medicine():
    department, _ = Department.objects.get_or_create(code="medicine", defaults={"name": "Medicine"})
    return department


@pytest.fixture
def ward(medicine):
    return gateway.ward_create(
        actor=CLI, department_id=medicine.pk, code="m1", name="Ward M1", beds=["1", "2", "3"]
    )


def _bed(ward, label: str) -> str:
    """A free bed of the ward by its label."""
    return next(b.id for b in gateway.beds_free() if b.ward_id == ward.id and b.label.endswith(f" · {label}"))


def _admit(clerk, patient, bed, doctor, nurse=None):
    return gateway.admission_admit(
        actor=clerk,
        session=WARD,
        purpose=OPS,
        patient_id=patient,
        bed_id=bed,
        attending_id=doctor.pk,
        nurse_id=nurse.pk if nurse is not None else None,
    )


# --- wards -------------------------------------------------------------------------------------------
def test_wards_belong_to_clinical_departments_only(medicine):
    admin = Department.objects.create(code="admin", name="Administration", clinical=False)
    with pytest.raises(InvalidInput):
        gateway.ward_create(actor=CLI, department_id=admin.pk, code="x", name="X", beds=["1"])
    with pytest.raises(InvalidInput):
        gateway.ward_create(actor=CLI, department_id=medicine.pk, code="x", name="X", beds=[])
    ward = gateway.ward_create(
        actor=CLI, department_id=medicine.pk, code="m1", name="Ward M1", beds=["1", "2"]
    )
    again = gateway.ward_create(
        actor=CLI, department_id=medicine.pk, code="m1", name="Ward M1", beds=["2", "3"]
    )
    assert (ward.beds, again.beds, again.occupied) == (2, 3, 0)
    assert AuditEvent.objects.filter(resource_type="Ward", action="create").count() == 2
    assert [d for d, _ in gateway.departments_list(clinical_only=True)] == [medicine.pk]


def test_only_a_system_actor_or_the_ward_manager_creates_wards(make_user, medicine):
    """The CLI and the seed, or a person with facility:ward:manage (ADR 0583)."""
    for role in ("physician", "registration_clerk", "security_officer"):
        with pytest.raises(Forbidden):
            gateway.ward_create(
                actor=make_user(role), department_id=medicine.pk, code="x", name="X", beds=["1"]
            )
    ward = gateway.ward_create(
        actor=make_user("it_admin"), department_id=medicine.pk, code="x", name="X", beds=["1"]
    )
    assert (ward.code, ward.beds) == ("x", 1)


# --- admit, transfer, discharge ------------------------------------------------------------------------
def test_admit_joins_the_care_team_and_fills_the_census(make_user, ward, patient):
    clerk = make_user("registration_clerk")
    doctor = make_user("physician", first_name="Amara", last_name="Lindqvist")
    nurse = make_user("nurse", first_name="Tomasz", last_name="Oyelaran")
    admitted = _admit(clerk, patient, _bed(ward, "2"), doctor, nurse)
    assert (admitted.ward, admitted.bed, admitted.attending, admitted.nurse) == (
        "Ward M1",
        "2",
        "Amara Lindqvist",
        "Tomasz Oyelaran",
    )
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient)
    assert {(m.name, m.role) for m in chart.care_team} == {
        ("Amara Lindqvist", "Attending physician"),
        ("Tomasz Oyelaran", "Admitting nurse"),
    }
    census = gateway.ward_census(actor=nurse, session=WARD, purpose=TREAT, ward_id=ward.id)
    occupied = {b.label: b.occupant for b in census.beds if b.occupant}
    assert list(occupied) == ["2"]
    assert occupied["2"].patient.family_name == "Quist"
    assert occupied["2"].attending == "Amara Lindqvist"
    assert census.ward.occupied == 1
    event = AuditEvent.objects.get(resource_type="WardCensus", actor_id=nurse.pk)
    assert event.detail["occupied"] == 1
    created = AuditEvent.objects.get(action="create", resource_type="Encounter")
    assert created.detail["admission"] == "admit"
    assert "Quist" not in str(created.detail)


def test_a_nurse_who_admits_is_the_admitting_nurse(make_user, ward, patient):
    nurse = make_user("nurse", first_name="Tomasz", last_name="Oyelaran")
    doctor = make_user("physician")
    admitted = _admit(nurse, patient, _bed(ward, "1"), doctor)
    assert admitted.nurse == "Tomasz Oyelaran"


def test_a_second_admission_and_an_occupied_bed_are_refused(make_user, ward, patient):
    clerk, doctor = make_user("registration_clerk"), make_user("physician")
    first = _admit(clerk, patient, _bed(ward, "1"), doctor)
    with pytest.raises(Conflict, match="already admitted"):
        _admit(clerk, patient, _bed(ward, "2"), doctor)
    other = new_patient(given="Bo", family="Other", mrn="MRN-OTHER")
    with pytest.raises(Conflict, match="occupied"):
        _admit(clerk, other, first.bed_id, doctor)
    # The old encounter form cannot make a second inpatient stay either.
    with pytest.raises(Conflict, match="already admitted"):
        gateway.encounter_start(
            actor=clerk,
            session=WARD,
            purpose=OPS,
            patient_id=patient,
            kind="inpatient",
            department_id=ward.department_id,
        )
    assert gateway.ward_census(actor=clerk, session=WARD, purpose=OPS, ward_id=ward.id).ward.occupied == 1


def test_only_a_physician_is_attending_and_only_a_nurse_is_the_admitting_nurse(make_user, ward, patient):
    clerk, nurse, doctor = make_user("registration_clerk"), make_user("nurse"), make_user("physician")
    with pytest.raises(InvalidInput) as error:
        _admit(clerk, patient, _bed(ward, "1"), nurse)
    assert "attending" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        _admit(clerk, patient, _bed(ward, "1"), doctor, clerk)
    assert "nurse" in error.value.errors
    with pytest.raises(InvalidInput):
        gateway.admission_admit(
            actor=clerk, session=WARD, purpose=OPS, patient_id=patient, bed_id="nope", attending_id=doctor.pk
        )
    assert not AuditEvent.objects.filter(action="create", resource_type="Encounter").exists()


def test_a_clinician_cannot_admit(make_user, ward, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    with pytest.raises(NotFound):
        _admit(doctor, patient, _bed(ward, "1"), doctor)
    assert AuditEvent.objects.filter(action="create", resource_type="Encounter", outcome="denied").exists()


def test_transfer_moves_the_bed_and_discharge_frees_it(make_user, ward, medicine, patient):
    surgery = Department.objects.create(code="surgery", name="Surgery")
    other_ward = gateway.ward_create(
        actor=CLI, department_id=surgery.pk, code="s1", name="Ward S1", beds=["A"]
    )
    clerk, doctor, nurse = make_user("registration_clerk"), make_user("physician"), make_user("nurse")
    admitted = _admit(clerk, patient, _bed(ward, "1"), doctor, nurse)
    moved = gateway.admission_transfer(
        actor=clerk, session=WARD, purpose=OPS, patient_id=patient, bed_id=_bed(other_ward, "A")
    )
    assert (moved.ward, moved.bed, moved.department, moved.encounter_id) == (
        "Ward S1",
        "A",
        "Surgery",
        admitted.encounter_id,
    )
    with pytest.raises(InvalidInput):  # the same bed
        gateway.admission_transfer(
            actor=clerk, session=WARD, purpose=OPS, patient_id=patient, bed_id=moved.bed_id
        )
    finished = gateway.encounter_finish(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, encounter_id=admitted.encounter_id
    )
    assert finished.ward_id == other_ward.id
    assert gateway.admission_current(actor=clerk, session=WARD, purpose=OPS, patient_id=patient) is None
    assert (
        gateway.ward_census(actor=clerk, session=WARD, purpose=OPS, ward_id=other_ward.id).ward.occupied == 0
    )
    # The admission's care team has left; the attending keeps the post-discharge window.
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient)
    assert chart.care_team == []
    with pytest.raises(NotFound):
        gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    with pytest.raises(Conflict, match="not admitted"):
        gateway.admission_transfer(
            actor=clerk, session=WARD, purpose=OPS, patient_id=patient, bed_id=_bed(ward, "2")
        )
    with pytest.raises(Conflict, match="already finished"):
        gateway.encounter_finish(
            actor=clerk, session=WARD, purpose=OPS, patient_id=patient, encounter_id=admitted.encounter_id
        )
    transfer = AuditEvent.objects.get(
        action="update", resource_type="Encounter", detail__admission="transfer"
    )
    assert transfer.detail["bed"] == moved.bed_id


def test_a_physician_discharges_only_a_patient_in_their_care(make_user, ward, patient):
    clerk, attending, stranger = (
        make_user("registration_clerk"),
        make_user("physician"),
        make_user("physician"),
    )
    admitted = _admit(clerk, patient, _bed(ward, "1"), attending)
    with pytest.raises(NotFound):
        gateway.encounter_finish(
            actor=stranger,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            encounter_id=admitted.encounter_id,
        )
    denied = AuditEvent.objects.get(action="update", resource_type="Encounter", outcome="denied")
    assert denied.reason == "no_relationship"
    for role in ("lab_technician", "pharmacist", "billing_clerk"):
        with pytest.raises(NotFound):
            gateway.encounter_finish(
                actor=make_user(role),
                session=WARD,
                purpose=TREAT,
                patient_id=patient,
                encounter_id=admitted.encounter_id,
            )
    gateway.encounter_finish(
        actor=attending, session=WARD, purpose=TREAT, patient_id=patient, encounter_id=admitted.encounter_id
    )


def test_the_census_needs_its_permission_and_the_clinical_zone(make_user, ward):
    with pytest.raises(Forbidden):
        gateway.ward_census(actor=make_user("lab_technician"), session=WARD, purpose=OPS, ward_id=ward.id)
    outside = SessionContext(session_id="x", reachable=False, reachable_reason="outside_zone")
    with pytest.raises(Forbidden):
        gateway.ward_census(actor=make_user("nurse"), session=outside, purpose=TREAT, ward_id=ward.id)
    with pytest.raises(NotFound):
        gateway.ward_census(actor=make_user("nurse"), session=WARD, purpose=TREAT, ward_id=uuid.uuid4())


def test_the_census_restricts_a_confidential_patient(make_user, ward):
    clerk, doctor, nurse = make_user("registration_clerk"), make_user("physician"), make_user("nurse")
    hidden = new_patient(given="Vera", family="Secret", mrn="MRN-VIP", is_confidential=True)
    relate(clerk, hidden, "department")  # the desk admits: it needs a relationship to a confidential record
    _admit(clerk, hidden, _bed(ward, "3"), doctor)
    census = gateway.ward_census(actor=nurse, session=WARD, purpose=TREAT, ward_id=ward.id)
    occupant = next(b.occupant for b in census.beds if b.label == "3")
    assert occupant.patient.restricted
    assert occupant.encounter_id is None
    assert occupant.attending == ""


# --- the pages -------------------------------------------------------------------------------------------
def _token(body: str, form_id: str) -> str:
    form = body[body.index(f'id="{form_id}"') :]
    match = re.search(r'name="submission" value="([0-9a-f]+)"', form)
    assert match is not None
    return match.group(1)


def test_the_clerk_admits_from_the_page_and_sees_a_second_admission_refused(make_user, ward, patient):
    client, _ = client_for(make_user, "registration_clerk")
    doctor = make_user("physician")
    page = client.get(f"/clinical/patients/{patient}/admission/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Not admitted" in body
    data = {"submission": _token(body, "admit-form"), "bed": _bed(ward, "1"), "attending": doctor.pk}
    done = client.post(f"/clinical/patients/{patient}/admission/", data)
    assert done.status_code == 302
    assert done.url == f"/clinical/wards/{ward.id}/"
    census = client.get(done.url).content.decode()
    assert "QUIST, Ada" in census
    assert client.post(f"/clinical/patients/{patient}/admission/", data).status_code == 409  # same form again
    again = client.get(f"/clinical/patients/{patient}/admission/").content.decode()
    assert "already admitted" in again
    fresh = {**data, "submission": uuid.uuid4().hex, "bed": _bed(ward, "2")}
    refused = client.post(f"/clinical/patients/{patient}/admission/", fresh)
    assert refused.status_code == 409
    assert "already admitted" in refused.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"bed": "", "attending": ""},
        {"bed": "not-a-bed", "attending": "1"},
        {"bed": "BED", "attending": "999999"},
        {"bed": "BED", "attending": "DOCTOR", "reason": "x" * 501},
    ],
)
def test_bad_admissions_are_400_and_save_nothing(make_user, ward, patient, data):
    client, _ = client_for(make_user, "registration_clerk")
    doctor = make_user("physician")
    values = {
        k: (_bed(ward, "1") if v == "BED" else str(doctor.pk) if v == "DOCTOR" else v)
        for k, v in data.items()
    }
    response = client.post(
        f"/clinical/patients/{patient}/admission/", {"submission": uuid.uuid4().hex, **values}
    )
    assert response.status_code == 400
    assert len(gateway.beds_free()) == 3


def test_a_nurse_who_discharges_lands_on_her_ward(make_user, ward, patient):
    client, nurse = client_for(make_user, "nurse")
    doctor = make_user("physician")
    admitted = _admit(make_user("registration_clerk"), patient, _bed(ward, "1"), doctor, nurse)
    census = client.get(f"/clinical/wards/{ward.id}/").content.decode()
    action = f"/clinical/patients/{patient}/encounters/{admitted.encounter_id}/discharge/"
    assert action in census
    done = client.post(action)
    assert done.status_code == 302
    assert done.url == f"/clinical/wards/{ward.id}/"
    landing = client.get(done.url)
    assert landing.status_code == 200
    assert "QUIST" not in landing.content.decode()
    assert client.get(f"/clinical/patients/{patient}/").status_code == 404  # no longer hers to open


def test_a_physician_discharges_from_the_chart(make_user, ward, patient):
    client, doctor = client_for(make_user, "physician")
    admitted = _admit(make_user("registration_clerk"), patient, _bed(ward, "1"), doctor)
    chart = client.get(f"/clinical/patients/{patient}/").content.decode()
    action = f"/clinical/patients/{patient}/encounters/{admitted.encounter_id}/discharge/"
    assert action in chart
    done = client.post(action)
    assert done.status_code == 302
    assert client.get(done.url).status_code == 200


def test_a_discharge_without_a_bed_lands_on_the_dashboard(make_user, patient):
    client, clerk = client_for(make_user, "billing_clerk")
    assert (
        client.post(f"/clinical/patients/{patient}/encounters/{uuid.uuid4()}/discharge/").status_code == 403
    )
    client, clerk = client_for(make_user, "registration_clerk")
    department = Department.objects.create(code="ed", name="Emergency")
    encounter = gateway.encounter_start(
        actor=clerk,
        session=WARD,
        purpose=OPS,
        patient_id=patient,
        kind="emergency",
        department_id=department.pk,
    )
    done = client.post(f"/clinical/patients/{patient}/encounters/{encounter.id}/discharge/")
    assert done.status_code == 302
    assert done.url == "/"


def test_a_physician_with_overdue_training_cannot_discharge_until_it_is_done(make_user, ward, patient):
    # "Clinical read-only" (training overdue past the grace period) withdraws
    # the discharge permission like every clinical write: the gateway refuses,
    # the page hides the button and its POST is a 403. Completing the course
    # gives it back.
    import datetime as dt

    from safeward import clock
    from safeward.identity.models import User
    from safeward.identity.permissions import Perm
    from safeward.workforce import services
    from safeward.workforce.models import Person, TrainingAssignment

    client, doctor = client_for(make_user, "physician")
    person = Person.objects.create(
        employee_number="E-DISCHARGE",
        first_name="Dana",
        last_name="Doctor",
        user=doctor,
        start_date=dt.date(2025, 1, 1),
        status=Person.Status.ACTIVE,
        activated_at=clock.now(),
    )
    course = services.training_course_save(actor=None, code="security", title="Security awareness")
    TrainingAssignment.objects.create(
        person=person,
        course=course,
        assigned_at=clock.now() - dt.timedelta(days=45),
        due_at=clock.now() - dt.timedelta(days=15),
    )
    admitted = _admit(make_user("registration_clerk"), patient, _bed(ward, "1"), doctor)
    action = f"/clinical/patients/{patient}/encounters/{admitted.encounter_id}/discharge/"

    def discharge():
        return gateway.encounter_finish(
            actor=User.objects.get(pk=doctor.pk),  # a fresh account object, as each request has
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            encounter_id=admitted.encounter_id,
        )

    assert not User.objects.get(pk=doctor.pk).has_perm(Perm.CLINICAL_ENCOUNTER_DISCHARGE)
    with pytest.raises(NotFound):
        discharge()
    denied = AuditEvent.objects.get(action="update", resource_type="Encounter", outcome="denied")
    assert denied.reason == "workforce_clinical_read_only"
    chart = client.get(f"/clinical/patients/{patient}/")
    assert chart.status_code == 200  # reads stay
    assert action not in chart.content.decode()
    assert client.post(action).status_code == 403

    services.training_complete(actor=make_user("hr_officer"), person=person, course=course)
    assert action in client.get(f"/clinical/patients/{patient}/").content.decode()
    assert client.post(action).status_code == 302
    with pytest.raises(Conflict):  # discharged by that POST, through the same gateway call
        discharge()


# --- critical results ---------------------------------------------------------------------------------
def _order_and_result(doctor, lab, patient, value: str):
    order = gateway.order_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, code="2823-3", display="Potassium"
    )
    return gateway.order_result(
        actor=lab,
        session=WARD,
        purpose=OPS,
        patient_id=patient,
        order_id=order.id,
        value=value,
        unit="mmol/L",
    )


def _critical_pending(user) -> int:
    return gateway.page_banners(actor=user, break_glass=False, results=True).critical_results


def test_a_critical_result_notifies_the_orderer_at_once(make_user, patient):
    client, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    lab = make_user("lab_technician")
    _order_and_result(doctor, lab, patient, "4.2")  # normal: to review, no alarm
    assert _critical_pending(doctor) == 0
    _order_and_result(doctor, lab, patient, "7.1")  # critical
    assert _critical_pending(doctor) == 1
    page = client.get("/").content.decode()
    assert "1 critical result" in page
    table = page[page.index('id="results-to-review"') :]
    assert table.index("7.1") < table.index("4.2")  # critical first
    worklist = gateway.physician_worklist(actor=doctor, session=WARD, purpose=TREAT)
    critical = worklist.results[0]
    assert critical.critical
    assert critical.observation.value == "7.1"
    # Someone else cannot acknowledge it; the recipient can, once.
    other = make_user("physician")
    with pytest.raises(NotFound):
        gateway.result_notification_acknowledge(
            actor=other, session=WARD, purpose=TREAT, notification_id=critical.id
        )
    done = client.post(f"/clinical/results/notifications/{critical.id}/acknowledge/")
    assert done.status_code == 302
    assert client.post(f"/clinical/results/notifications/{critical.id}/acknowledge/").status_code == 409
    assert client.post(f"/clinical/results/notifications/{uuid.uuid4()}/acknowledge/").status_code == 404
    assert _critical_pending(doctor) == 0
    assert "critical result" not in client.get("/").content.decode()
    ack = AuditEvent.objects.get(action="update", resource_type="ResultNotification", outcome="success")
    assert ack.actor_id == doctor.pk
    assert ack.detail["critical"] is True
    assert "7.1" not in str(ack.detail)
    resulted = AuditEvent.objects.filter(resource_type="Observation", action="update", actor_id=lab.pk)
    assert [e.detail.get("critical") for e in resulted.order_by("pk")] == [False, True]


# --- worklists ----------------------------------------------------------------------------------------------
def test_each_role_lands_on_its_worklist(make_user, ward, patient):
    doctor = make_user("physician")
    nurse = make_user("nurse")
    medicine = Department.objects.get(pk=ward.department_id)
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": medicine})
    _admit(make_user("registration_clerk"), patient, _bed(ward, "1"), doctor)
    expectations = {
        "physician": ("My work today", "My inpatients"),
        "nurse": ("Ward census", "Ward M1"),
        "registration_clerk": ("Today&#x27;s arrivals and check-ins", "No appointments today."),
        "lab_technician": ("Laboratory worklist", "No open orders."),
        "pharmacist": ("Medication orders to verify", "No medication orders"),
        "security_officer": ("Open alerts", "No open alerts."),
        "privacy_officer": (
            "Accesses to review",
            "Emergency accesses to review",
            "No emergency access waiting",
        ),
        "hr_officer": ("Gates, terminations and reviews", "Terminations scheduled", "Training overdue"),
    }
    for role, texts in expectations.items():
        client = Client()
        user = doctor if role == "physician" else nurse if role == "nurse" else make_user(role)
        sign_in(client, user)
        body = client.get("/").content.decode()
        for text in texts:
            assert text in body, (role, text)
        assert 'class="tile"' not in body
    doctor_client = Client()
    sign_in(doctor_client, doctor)
    body = doctor_client.get("/").content.decode()
    assert "QUIST, Ada" in body
    assert "Ward M1 · bed 1" in body
    nurse_client = Client()
    sign_in(nurse_client, nurse)
    assert "QUIST, Ada" in nurse_client.get("/").content.decode()


def test_worklists_read_in_a_fixed_number_of_queries(make_user, ward, django_assert_max_num_queries):
    clerk, doctor = make_user("registration_clerk"), make_user("physician")
    for n in range(3):
        p = new_patient(given=f"P{n}", family="Many", mrn=f"MRN-MANY-{n}")
        _admit(clerk, p, _bed(ward, str(n + 1)), doctor)
        relate(doctor, p, "care_team")
    gateway.physician_worklist(actor=doctor, session=WARD, purpose=TREAT)  # warm caches
    with django_assert_max_num_queries(24):
        worklist = gateway.physician_worklist(actor=doctor, session=WARD, purpose=TREAT)
    assert len(worklist.inpatients) == 3
    with django_assert_max_num_queries(20):
        census = gateway.ward_census(actor=clerk, session=WARD, purpose=OPS, ward_id=ward.id)
    assert census.ward.occupied == 3


def test_a_lists_event_and_its_index_rows_are_one_statement_on_postgresql(make_user, ward):
    """Round trips of the census and the worklist (ADR 0588): the rows, the
    patients, the facts, and the audit event with its per-patient index rows.
    On PostgreSQL the event and its index rows are one statement, run as a
    transaction of its own (no BEGIN and COMMIT round trips); elsewhere two
    inserts in one transaction. The event still names every patient shown."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safeward.audit.models import AuditEventPatient

    clerk, doctor = make_user("registration_clerk"), make_user("physician")
    patients = []
    for n in range(3):
        p = new_patient(given=f"P{n}", family="Trip", mrn=f"MRN-TRIP-{n}")
        _admit(clerk, p, _bed(ward, str(n + 1)), doctor)
        relate(doctor, p, "care_team")
        patients.append(str(p))
    postgres = connection.vendor == "postgresql"
    calls = {
        "census": (lambda: gateway.ward_census(actor=clerk, session=WARD, purpose=OPS, ward_id=ward.id), 6),
        "worklist": (lambda: gateway.physician_worklist(actor=doctor, session=WARD, purpose=TREAT), 8),
    }
    for name, (call, reads) in calls.items():
        call()  # warm caches
        opened: list[int] = []  # atomic blocks the list opened around each audit write
        outer = len(connection.atomic_blocks)  # the test's own

        def audit_writes(execute, sql, params, many, context, seen=opened, outer=outer):
            if "audit_auditevent" in sql:
                seen.append(len(connection.atomic_blocks) - outer)
            return execute(sql, params, many, context)

        with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(audit_writes):
            call()
        statements = [q["sql"] for q in queries.captured_queries]
        if postgres:
            assert len(statements) == reads, (name, statements)
            assert opened == [0], name
        else:
            writes = [sql for sql in statements if "audit_auditevent" in sql]
            assert len(writes) == 2, (name, writes)
            assert opened == [1, 1], name
        event = AuditEvent.objects.filter(resource_type__in=["WardCensus", "Worklist"]).latest("id")
        assert event.detail["patients"] == sorted(patients)
        indexed = AuditEventPatient.objects.filter(event_id=event.pk).order_by("id")
        assert [row.patient_id for row in indexed] == sorted(patients)


def test_a_failing_facts_statement_fails_the_list_closed(make_user, ward, monkeypatch):
    """A facts statement that errors raises from the list: nothing shown, no
    READ event written; the next census works (issue 12, ADR 0590)."""
    from django.db import DatabaseError, transaction

    from safeward.clinical.gateway import _core

    clerk, doctor = make_user("registration_clerk"), make_user("physician")
    p = new_patient(given="Fail", family="Closed", mrn="MRN-FAIL-1")
    _admit(clerk, p, _bed(ward, "1"), doctor)
    before = AuditEvent.objects.filter(resource_type="WardCensus").count()
    monkeypatch.setattr(_core, "_patient_facts_sql", lambda: " UNION ALL SELECT no_such_column")
    with pytest.raises(DatabaseError), transaction.atomic():
        gateway.ward_census(actor=clerk, session=WARD, purpose=OPS, ward_id=ward.id)
    monkeypatch.undo()
    assert AuditEvent.objects.filter(resource_type="WardCensus").count() == before
    census = gateway.ward_census(actor=clerk, session=WARD, purpose=OPS, ward_id=ward.id)
    assert [b.occupant.patient.id for b in census.beds if b.occupant] == [str(p)]


# --- the operators' CLI -------------------------------------------------------------------------------------
def test_the_ward_command_adds_wards_and_beds_and_says_what_was_wrong(medicine):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("ward", "add", "medicine", "m9", "Ward M9", "--beds", "1-12,side", stdout=out)
    assert "Ward m9 (Ward M9, Medicine): 13 beds." in out.getvalue()
    listing = StringIO()
    call_command("ward", "list", stdout=listing)
    assert "0/13 beds taken" in listing.getvalue()
    with pytest.raises(CommandError, match=r"No department 'nowhere'\. Known: medicine"):
        call_command("ward", "add", "nowhere", "x", "X", "--beds", "1-2")
    with pytest.raises(CommandError, match="at most 200 beds"):
        call_command("ward", "add", "medicine", "x", "X", "--beds", "9-1")
    Department.objects.create(code="finance", name="Finance", clinical=False)
    with pytest.raises(CommandError, match="clinical departments only"):
        call_command("ward", "add", "finance", "x", "X", "--beds", "1-2")
    assert AuditEvent.objects.filter(resource_type="Ward", action="create", outcome="success").count() == 1


def test_bad_transfers_are_400_and_move_nothing(make_user, ward, patient):
    client, clerk = client_for(make_user, "registration_clerk")
    admitted = _admit(clerk, patient, _bed(ward, "1"), make_user("physician"))
    for bed in ("", "not-a-bed", str(uuid.uuid4()), admitted.bed_id):
        response = client.post(
            f"/clinical/patients/{patient}/admission/transfer/", {"submission": uuid.uuid4().hex, "bed": bed}
        )
        assert response.status_code == 400, bed
    current = gateway.admission_current(actor=clerk, session=WARD, purpose=OPS, patient_id=patient)
    assert current is not None
    assert current.bed_id == admitted.bed_id
    assert not AuditEvent.objects.filter(resource_type="Encounter", detail__admission="transfer").exists()


def test_the_admission_page_names_the_patient_and_records_the_demographics_read(make_user, ward):
    """The desk admits the right person: the page shows the name, MRN and
    birth date (and nothing more of the record), and the READ event says so."""
    patient = new_patient(given="Kari", family="Nordmann", mrn="M-4411")
    client, clerk = client_for(make_user, "registration_clerk")
    desk = gateway.admission_desk(actor=clerk, session=WARD, purpose=OPS, patient_id=patient)
    assert desk.current is None
    assert desk.patient.display_name == "NORDMANN, Kari"
    assert desk.patient.phone is None  # demographics only, not the contact details
    event = AuditEvent.objects.filter(resource_type="Admission", action="read").latest("occurred_at")
    assert {"admission", "family_name", "mrn"} <= set(event.fields)
    assert "phone" not in event.fields
    page = client.get(f"/clinical/patients/{patient}/admission/").content.decode()
    assert "Admission: NORDMANN, Kari</h1>" in page
    assert "MRN M-4411 · born 1980-02-03" in page


def test_my_patients_lists_each_patient_once_with_the_role_capitalised(make_user, ward, patient):
    """A care-team role recorded as "attending physician" (an import) and the
    admission's "Attending physician" are one role on one row."""
    clerk, doctor = make_user("registration_clerk"), make_user("physician")
    gateway.care_team_add(
        actor=CLI,
        session=SessionContext.system(),
        purpose=OPS,
        patient_id=patient,
        user_id=doctor.pk,
        role="attending physician",
    )
    gateway.care_team_add(
        actor=CLI,
        session=SessionContext.system(),
        purpose=OPS,
        patient_id=patient,
        user_id=doctor.pk,
        role="consultant",
    )
    _admit(clerk, patient, _bed(ward, "1"), doctor)
    rows = gateway.physician_worklist(actor=doctor, session=WARD, purpose=TREAT).my_patients
    assert [(r.patient.id, r.reason) for r in rows] == [(patient, "Attending physician, Consultant")]

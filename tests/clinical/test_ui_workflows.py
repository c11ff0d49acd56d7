"""The chart workflows added for issue 5's UI gaps, through the test client:
documents (upload, list, download, bad files, size cap), lab orders → the
laboratory worklist → results with flags on the chart, encounters (admit,
discharge), patient-requested restrictions (record, view, lift), the
break-glass banner on every page, and the schedule's default clinic. Every
form is posted twice and with bad input: a clear 4xx and nothing half-saved."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway, lab_catalog, uploads
from safeward.clinical.types import SessionContext
from safeward.identity.models import Department, StaffProfile
from tests.clinical.conftest import IMPORTER, WARD, new_patient, relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def documents_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def client_for(make_user, *roles: str, **kwargs):
    user = make_user(*roles, **kwargs)
    client = Client()
    sign_in(client, user)
    return client, user


def token(client: Client, path: str, form_id: str) -> str:
    body = client.get(path).content.decode()
    form = body[body.index(f'id="{form_id}"') :]
    match = re.search(r'name="submission" value="([0-9a-f]+)"', form)
    assert match is not None
    return match.group(1)


# --- documents -------------------------------------------------------------------------------------
def _upload(client, patient, *, name="letter.pdf", content=PDF, title="Referral letter", submission=None):
    return client.post(
        f"/clinical/patients/{patient}/documents/",
        {
            "submission": submission or uuid.uuid4().hex,
            "title": title,
            "file": SimpleUploadedFile(name, content, content_type="application/pdf"),
        },
    )


def test_document_upload_list_and_audited_download(make_user, patient):
    client, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    submission = token(client, f"/clinical/patients/{patient}/", "document-form")
    response = _upload(client, patient, title='Echo "report" / 2026\nline', submission=submission)
    assert response.status_code == 302
    assert re.fullmatch(r"/clinical/patients/[0-9a-f-]{36}/#documents", response["Location"])
    chart = client.get(f"/clinical/patients/{patient}/").content.decode()
    assert "Echo &quot;report&quot; / 2026" in chart
    link = re.search(rf'href="(/clinical/patients/{patient}/documents/([0-9a-f-]{{36}})/)"', chart)
    assert link is not None
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert disposition == 'attachment; filename="Echo report 2026 line.pdf"'
    assert download["Content-Type"] == "application/pdf"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download["Cache-Control"]
    read = AuditEvent.objects.get(action="read", resource_type="Document", actor_id=doctor.pk)
    assert read.resource_id == link.group(2)
    # Posting the same form again stores nothing more.
    again = _upload(client, patient, submission=submission)
    assert again.status_code == 409
    assert AuditEvent.objects.filter(action="create", resource_type="Document").count() == 1


def test_download_filename_keeps_non_ascii_safely():
    header = uploads.attachment_header("Brev från kardiologen\r\n", "text/plain")
    assert header.startswith("attachment; filename*=utf-8''Brev%20fr%C3%A5n%20kardiologen.txt")
    assert uploads.download_filename("../../etc/passwd", "application/pdf") == "etc passwd.pdf"
    assert uploads.download_filename("", "image/png") == "document.png"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pdf", b"", "The submitted file is empty."),
        ("tool.pdf", b"MZ\x90\x00\x03\x00\x00\x00binary", "this file is none of them"),
        ("notes.pdf", b"plain words, not a PDF", "a plain-text file, but its name does not end in .txt"),
        ("scan.txt", PDF, "The file&#x27;s content is a PDF"),
        ("photo.gif", b"GIF89a\x01\x00\x01\x00", "none of them"),
        ("latin1.txt", "Sjukhus på väg".encode("latin-1"), "none of them"),
    ],
)
def test_bad_files_are_refused_with_a_clear_400(make_user, patient, name, content, message):
    client, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    response = _upload(client, patient, name=name, content=content)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action="create", resource_type="Document").exists()


def test_accepted_kinds_are_sniffed_from_content(make_user, patient):
    client, doctor = client_for(make_user, "nurse")
    relate(doctor, patient, "care_team")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    for name, content in (("x.png", png), ("x.JPG", jpeg), ("x.txt", "Dosering: två gånger/dag\n".encode())):
        assert _upload(client, patient, name=name, content=content).status_code == 302
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    assert sorted(d.content_type for d in chart.documents or []) == ["image/jpeg", "image/png", "text/plain"]


def test_an_oversized_upload_is_refused_before_the_body_is_read(make_user, patient):
    client, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    response = client.post(
        f"/clinical/patients/{patient}/documents/",
        {"submission": uuid.uuid4().hex, "title": "Big", "file": SimpleUploadedFile("a.pdf", PDF)},
        CONTENT_LENGTH=str(uploads.MAX_REQUEST_BYTES + 1),
    )
    assert response.status_code == 413
    assert "larger than 25 MiB" in response.content.decode()
    assert not AuditEvent.objects.filter(action="create", resource_type="Document").exists()


def test_a_body_longer_than_declared_is_cut_off_while_it_is_read(make_user, patient, monkeypatch):
    """The cap also holds when the declared length is no guide (chunked or false)."""
    client, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    monkeypatch.setattr(uploads, "MAX_DOCUMENT_BYTES", 1000)
    response = _upload(client, patient, content=PDF + b"%" * 5000)
    assert response.status_code == 413
    assert not AuditEvent.objects.filter(action="create", resource_type="Document").exists()


def test_the_size_limit_handler_stops_a_growing_body():
    from django.core.files.uploadhandler import StopUpload

    handler = uploads.SizeLimitHandler(limit=10)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"123456", 5)
    assert handler.exceeded


def test_upload_still_needs_a_csrf_token(make_user, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    client = Client(enforce_csrf_checks=True)
    sign_in(client, doctor)
    assert _upload(client, patient).status_code == 403
    assert not AuditEvent.objects.filter(action="create", resource_type="Document").exists()


def test_a_stranger_cannot_upload_to_or_download_from_a_chart(make_user, patient):
    owner, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    assert _upload(owner, patient).status_code == 302
    document = gateway.chart_read(
        actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient
    ).documents[0]
    stranger, _ = client_for(make_user, "physician")
    assert _upload(stranger, patient).status_code == 404
    response = stranger.get(f"/clinical/patients/{patient}/documents/{document.id}/")
    assert response.status_code == 404
    assert PDF not in response.content


# --- lab orders, worklist, results -----------------------------------------------------------------
def test_order_worklist_result_and_chart_flags(make_user, patient):
    doctor_client, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    submission = token(doctor_client, f"/clinical/patients/{patient}/", "order-form")
    ordered = doctor_client.post(
        f"/clinical/patients/{patient}/orders/", {"submission": submission, "test": "2823-3"}
    )
    assert ordered.status_code == 302
    again = doctor_client.post(
        f"/clinical/patients/{patient}/orders/", {"submission": submission, "test": "2823-3"}
    )
    assert again.status_code == 409
    assert "Potassium" in doctor_client.get(f"/clinical/patients/{patient}/").content.decode()

    lab_client, tech = client_for(make_user, "lab_technician")
    page = lab_client.get("/clinical/lab/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "QUIST, Ada" in body
    assert "3.5\N{EN DASH}5.1 mmol/L" in body
    action = re.search(r'action="(/clinical/patients/[0-9a-f-]+/orders/[0-9a-f-]+/result/)"', body).group(1)
    result_token = re.search(r'name="submission" value="([0-9a-f]+)"', body).group(1)
    data = {"submission": result_token, "value": "5.9", "unit": "mmol/L"}
    done = lab_client.post(action, data)
    assert done.status_code == 302
    assert "Flag: high" in str(list(lab_client.get("/clinical/lab/").context["messages"]))
    assert lab_client.post(action, data).status_code == 409  # the same form again
    assert lab_client.post(action, {**data, "submission": uuid.uuid4().hex}).status_code == 409  # resulted
    assert "No open orders." in lab_client.get("/clinical/lab/").content.decode()

    chart = doctor_client.get(f"/clinical/patients/{patient}/").content.decode()
    lab_table = chart[chart.index('id="lab-results"') :]
    assert "5.9</strong> mmol/L" in lab_table
    assert ">H <span" in lab_table
    assert "3.5\N{EN DASH}5.1 mmol/L" in lab_table
    update = AuditEvent.objects.get(action="update", resource_type="Observation", actor_id=tech.pk)
    assert update.fields == ["observation.result"]
    assert "5.9" not in str(update.detail)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"value": "high", "unit": "mmol/L"}, "Result"),
        ({"value": "", "unit": "mmol/L"}, "Result"),
        ({"value": "4.1", "unit": "mg/dL"}, "reported in mmol/L"),
        ({"value": "4.1", "unit": "mmol L"}, "Not a valid UCUM unit"),
        ({"value": "1" * 40, "unit": "mmol/L"}, "Result"),
    ],
)
def test_bad_results_are_refused_and_the_order_stays_open(make_user, patient, data, field):
    order = gateway.order_create(
        actor=IMPORTER,
        session=SessionContext.system(),
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        code="2823-3",
        display="Potassium",
    )
    client, _ = client_for(make_user, "lab_technician")
    response = client.post(
        f"/clinical/patients/{patient}/orders/{order.id}/result/", {"submission": uuid.uuid4().hex, **data}
    )
    assert response.status_code == 400
    assert field in response.content.decode()
    assert "Potassium" in client.get("/clinical/lab/").content.decode()


def test_the_worklist_withholds_confidential_patients_and_is_the_labs_only(make_user):
    open_patient = new_patient(given="Open", family="Patient")
    hidden = new_patient(given="Hidden", family="Person", is_confidential=True)
    for pid in (open_patient, hidden):
        gateway.order_create(
            actor=IMPORTER,
            session=SessionContext.system(),
            purpose=PurposeOfUse.TREATMENT,
            patient_id=pid,
            code="718-7",
            display="Hemoglobin",
        )
    client, tech = client_for(make_user, "lab_technician")
    body = client.get("/clinical/lab/").content.decode()
    assert "PATIENT, Open" in body
    assert "Hidden" not in body
    assert "1 open order(s) are not shown" in body
    event = AuditEvent.objects.get(action="read", resource_type="LabWorklist", actor_id=tech.pk)
    assert event.detail["patients"] == [open_patient]
    assert event.detail["withheld"] == 1
    doctor_client, _ = client_for(make_user, "physician")
    assert doctor_client.get("/clinical/lab/").status_code == 403


def test_interpretation_follows_the_catalog():
    assert lab_catalog.interpret("2823-3", "mmol/L", "4.0") is lab_catalog.Flag.NORMAL
    assert lab_catalog.interpret("2823-3", "mmol/L", "3.1") is lab_catalog.Flag.LOW
    assert lab_catalog.interpret("2823-3", "mmol/L", "6.9") is lab_catalog.Flag.CRITICAL_HIGH
    assert lab_catalog.interpret("2823-3", "mmol/L", "2.0") is lab_catalog.Flag.CRITICAL_LOW
    assert lab_catalog.interpret("2823-3", "mg/dL", "4.0") is None
    assert lab_catalog.interpret("1988-5", "mg/L", "12") is lab_catalog.Flag.HIGH
    assert lab_catalog.interpret("9999-9", "mmol/L", "4.0") is None
    assert lab_catalog.interpret("2823-3", "mmol/L", "NaN") is None
    assert lab_catalog.BY_CODE["1988-5"].reference == "< 5.0 mg/L"


# --- encounters --------------------------------------------------------------------------------------
def test_admit_then_discharge_once(make_user, patient):
    ward = Department.objects.create(code="ward-7", name="Ward 7")
    client, nurse = client_for(make_user, "nurse")
    relate(nurse, patient, "care_team")
    attending = make_user("physician", first_name="Amara", last_name="Okafor")
    submission = token(client, f"/clinical/patients/{patient}/", "encounter-form")
    data = {
        "submission": submission,
        "kind": "inpatient",
        "department": ward.pk,
        "attending": attending.pk,
        "reason": "Community-acquired pneumonia",
    }
    assert client.post(f"/clinical/patients/{patient}/encounters/", data).status_code == 302
    assert client.post(f"/clinical/patients/{patient}/encounters/", data).status_code == 409
    chart = client.get(f"/clinical/patients/{patient}/").content.decode()
    assert "Ward 7" in chart
    assert "Okafor" in chart
    encounter = re.search(rf"/clinical/patients/{patient}/encounters/([0-9a-f-]+)/discharge/", chart).group(0)
    assert client.post(encounter).status_code == 302
    assert client.post(encounter).status_code == 409
    chart = gateway.chart_read(actor=nurse, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    assert [(e.status, e.ended_at is not None) for e in chart.encounters] == [("finished", True)]
    assert AuditEvent.objects.filter(action="create", resource_type="Encounter").count() == 1
    assert AuditEvent.objects.filter(action="update", resource_type="Encounter").count() == 1


def test_bad_encounter_input_is_400_and_saves_nothing(make_user, patient):
    ward = Department.objects.create(code="ward-8", name="Ward 8")
    client, _ = client_for(make_user, "registration_clerk")
    for data in (
        {"kind": "spa-day", "department": ward.pk},
        {"kind": "emergency", "department": 999_999},
        {"kind": "emergency", "department": ward.pk, "attending": 999_999},
        {"kind": "emergency", "department": ward.pk, "reason": "x" * 501},
    ):
        response = client.post(
            f"/clinical/patients/{patient}/encounters/", {"submission": uuid.uuid4().hex, **data}
        )
        assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="create", resource_type="Encounter").exists()
    other = new_patient(given="Other", family="Person")
    response = client.post(f"/clinical/patients/{other}/encounters/{uuid.uuid4()}/discharge/")
    assert response.status_code == 404


def test_a_clerk_admits_without_seeing_the_encounter_list(make_user, patient):
    ward = Department.objects.create(code="ed", name="Emergency department")
    client, clerk = client_for(make_user, "registration_clerk")
    StaffProfile.objects.update_or_create(user=clerk, defaults={"department": ward})
    chart = client.get(f"/clinical/patients/{patient}/").content.decode()
    assert "Admission" in chart
    assert f'<option value="{ward.pk}" selected>' in chart  # their own department first
    data = {"submission": uuid.uuid4().hex, "kind": "emergency", "department": ward.pk}
    assert client.post(f"/clinical/patients/{patient}/encounters/", data).status_code == 302


# --- restrictions ------------------------------------------------------------------------------------
def test_restriction_record_view_and_lift(make_user, patient):
    doctor_client, doctor = client_for(make_user, "physician", first_name="Ivo", last_name="Snoop")
    relate(doctor, patient, "care_team")
    assert doctor_client.get(f"/clinical/patients/{patient}/").status_code == 200
    assert 'id="restrictions"' not in doctor_client.get(f"/clinical/patients/{patient}/").content.decode()
    clerk_client, _ = client_for(make_user, "registration_clerk")
    submission = token(clerk_client, f"/clinical/patients/{patient}/", "restriction-form")
    data = {"submission": submission, "kind": "exclude_user", "user": doctor.pk, "note": "Ex-partner"}
    assert clerk_client.post(f"/clinical/patients/{patient}/restrictions/", data).status_code == 302
    assert clerk_client.post(f"/clinical/patients/{patient}/restrictions/", data).status_code == 409
    fresh = {**data, "submission": uuid.uuid4().hex}
    assert (
        clerk_client.post(f"/clinical/patients/{patient}/restrictions/", fresh).status_code == 409
    )  # in force
    # The named person can no longer open the record.
    assert doctor_client.get(f"/clinical/patients/{patient}/").status_code == 404
    chart = clerk_client.get(f"/clinical/patients/{patient}/").content.decode()
    section = chart[chart.index('id="restrictions"') :]
    assert "Snoop" in section
    assert "Ex-partner" in section
    assert "in force" in section
    lift = re.search(rf"/clinical/patients/{patient}/restrictions/([0-9a-f-]+)/lift/", section).group(0)
    assert clerk_client.post(lift).status_code == 302
    assert clerk_client.post(lift).status_code == 409
    assert doctor_client.get(f"/clinical/patients/{patient}/").status_code == 200
    events = AuditEvent.objects.filter(resource_type="PatientRestriction").exclude(action="read")
    assert sorted(events.values_list("action", flat=True)) == ["create", "update"]
    assert all("Ex-partner" not in str(e.detail) for e in events)


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "exclude_user"},
        {"kind": "exclude_department"},
        {"kind": "no_payer", "department": "DEPT"},
        {"kind": "exclude_user", "user": 999_999},
        {"kind": "gag-order"},
        {"kind": "no_payer", "note": "n" * 501},
    ],
)
def test_bad_restrictions_are_400(make_user, patient, data):
    department = Department.objects.create(code="psy", name="Psychiatry")
    if data.get("department") == "DEPT":
        data = {**data, "department": department.pk}
    client, _ = client_for(make_user, "registration_clerk")
    response = client.post(
        f"/clinical/patients/{patient}/restrictions/", {"submission": uuid.uuid4().hex, **data}
    )
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="create", resource_type="PatientRestriction").exists()


def test_a_payer_restriction_hides_codes_from_billing(make_user, patient):
    clerk = make_user("registration_clerk")
    billing_client, _ = client_for(make_user, "billing_clerk")
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    gateway.condition_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        code="F32.9",
        display="Dep",
    )
    assert "F32.9" in billing_client.get(f"/clinical/patients/{patient}/").content.decode()
    gateway.restriction_create(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, patient_id=patient, kind="no_payer"
    )
    assert "F32.9" not in billing_client.get(f"/clinical/patients/{patient}/").content.decode()


# --- the break-glass banner and the schedule's default clinic -----------------------------------------
def test_the_break_glass_banner_shows_on_every_page(make_user, frozen_clock):
    patient = new_patient(given="Kari", family="Nordmann")
    client, nurse = client_for(make_user, "nurse")
    assert "EMERGENCY ACCESS ACTIVE" not in client.get("/").content.decode()
    grant = gateway.break_glass_start(
        actor=nurse,
        session=WARD,
        patient_id=patient,
        reason_kind="unconscious",
        justification="Found unresponsive in the car park.",
    )
    frozen_clock.advance(minutes=10)
    for path in ("/", "/identity/sessions/", "/workforce/me/", "/clinical/schedule/"):
        body = client.get(path).content.decode()
        assert "EMERGENCY ACCESS ACTIVE" in body, path
        assert "50\N{NO-BREAK SPACE}minutes left" in body, path
        assert f"/clinical/break-glass/{grant.id}/end/" in body, path
        assert "Nordmann" not in body  # the banner names no patient
    assert client.post(f"/clinical/break-glass/{grant.id}/end/").status_code == 302
    assert "EMERGENCY ACCESS ACTIVE" not in client.get("/").content.decode()


def test_the_schedule_opens_on_the_users_own_clinic(make_user):
    first = Department.objects.create(code="aaa", name="A-first clinic")
    own = Department.objects.create(code="zzz", name="Z-own clinic")
    client, nurse = client_for(make_user, "nurse")
    page = client.get("/clinical/schedule/").content.decode()
    assert f'<option value="{first.pk}" selected>' in page  # no profile: the first clinic
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": own})
    page = client.get("/clinical/schedule/").content.decode()
    assert f'<option value="{own.pk}" selected>' in page
    page = client.get(f"/clinical/schedule/?department={first.pk}").content.decode()
    assert f'<option value="{first.pk}" selected>' in page  # an explicit choice wins


def test_document_bytes_in_memory_helper_sniffs_without_consuming():
    source = io.BytesIO(PDF)
    assert uploads.sniff(source) == "application/pdf"
    assert source.tell() == 0

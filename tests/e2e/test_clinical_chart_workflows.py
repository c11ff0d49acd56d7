"""The chart workflows of issue 5's UI gaps in a real browser: documents
(upload, list, download), a lab order through the laboratory's worklist to a
flagged result on the chart, admission and discharge, patient-requested
restrictions, the break-glass banner on a non-clinical page, and the
schedule opening on the user's own clinic. Screenshots go to
test-artifacts/screenshots/chartflow-*.png."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.identity.models import Department, NetworkZone, StaffProfile
from safeward.identity.network import zone_table
from tests.clinical.conftest import WARD, new_patient, relate
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def ward_zone(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()


def new_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_document_and_lab_result_round_trip(browser, page, live_server, screenshot, tmp_path):
    doctor = UserFactory(
        username="dr.lind", first_name="Astrid", last_name="Lind", roles=["physician"], totp_secret=True
    )
    patient = new_patient(given="Maja", family="Brandt")
    relate(doctor, patient, "care_team")
    sign_in_browser(page, doctor)
    page.goto(f"/clinical/patients/{patient}/")

    # Upload a document, keyboard only after choosing the file.
    upload = tmp_path / "referral.pdf"
    upload.write_bytes(PDF)
    page.get_by_text("Upload a document").click()
    page.get_by_label("Document name").fill("Referral letter, cardiology")
    page.locator("#document_file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload", exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Document stored (encrypted).")
    assert "Referral" not in page.url
    assert "Referral letter, cardiology" in page.inner_text("#documents")
    with page.expect_download() as info:
        page.locator("#documents").get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "Referral letter, cardiology.pdf"
    assert download.path().read_bytes() == PDF
    screenshot(page, "chartflow-01-documents")

    # A bad file gets a clear message and nothing is stored.
    bad = tmp_path / "photo.pdf"
    bad.write_bytes(b"GIF89a\x01\x00\x01\x00")
    page.goto(f"/clinical/patients/{patient}/")
    page.get_by_text("Upload a document").click()
    page.get_by_label("Document name").fill("Holiday photo")
    page.locator("#document_file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_selector("h1:has-text('Not saved')")
    assert "Only PDF, PNG, JPEG and plain-text" in page.inner_text("main")
    screenshot(page, "chartflow-02-bad-file")

    # Order a potassium.
    page.goto(f"/clinical/patients/{patient}/")
    page.get_by_text("Order a lab test").click()
    page.locator("#order_test").select_option("2823-3")
    page.get_by_role("button", name="Order test").click()
    page.wait_for_selector(".message.success")
    assert "Potassium" in page.inner_text("#orders")

    # The lab technician results it from the worklist.
    tech = UserFactory(username="lab.kim", first_name="Kim", roles=["lab_technician"], totp_secret=True)
    lab_context, lab_page = new_page(browser, live_server)
    try:
        sign_in_browser(lab_page, tech)
        lab_page.get_by_role("navigation", name="Main").get_by_role("link", name="Lab worklist").click()
        row = lab_page.locator("#worklist tbody tr").first
        assert "BRANDT, Maja" in row.inner_text()
        assert "3.5\N{EN DASH}5.1 mmol/L" in row.inner_text()
        row.get_by_label("Result for").fill("5.9")
        screenshot(lab_page, "chartflow-03-worklist")
        lab_page.keyboard.press("Enter")
        lab_page.wait_for_selector(".message.success")
        assert "Flag: high" in lab_page.inner_text(".messages")
        assert "No open orders." in lab_page.inner_text("#worklist")
        screenshot(lab_page, "chartflow-04-resulted")
    finally:
        lab_context.close()

    page.goto(f"/clinical/patients/{patient}/")
    page.reload()  # the same URL as before the lab worked: load it afresh
    lab = page.inner_text("#lab-results")
    assert "5.9 mmol/L" in lab
    assert "H" in lab
    assert "Potassium" not in page.inner_text("#orders")
    screenshot(page, "chartflow-05-results-flagged")
    assert AuditEvent.objects.filter(action="read", resource_type="Document", actor_id=doctor.pk).count() == 1


def test_admission_discharge_and_restrictions(browser, page, live_server, screenshot):
    ward = Department.objects.create(code="ward-4", name="Ward 4 (medicine)")
    Department.objects.create(code="aaa", name="Admissions office")
    clerk = UserFactory(username="reg.ola", first_name="Ola", roles=["registration_clerk"], totp_secret=True)
    StaffProfile.objects.update_or_create(user=clerk, defaults={"department": ward})
    doctor = UserFactory(
        username="dr.snoop", first_name="Ivo", last_name="Snoop", roles=["physician"], totp_secret=True
    )
    patient = new_patient(given="Kari", family="Nordmann")
    sign_in_browser(page, clerk)
    page.goto(f"/clinical/patients/{patient}/")

    # Admission: the clerk's own ward is preselected.
    page.get_by_text("Start an encounter").click()
    assert page.locator("#encounter_department").input_value() == str(ward.pk)
    page.get_by_label("Encounter kind").select_option("inpatient")
    page.get_by_label("Attending").select_option(str(doctor.pk))
    page.get_by_label("Reason for the encounter").fill("Pneumonia, needs IV antibiotics")
    screenshot(page, "chartflow-10-admission-form")
    page.get_by_role("button", name="Start encounter").click()
    page.wait_for_selector("text=Encounter started.")

    # A restriction: keep Dr Snoop out of the record.
    page.get_by_text("Record a restriction").click()
    page.locator("#restriction_kind").select_option("exclude_user")
    page.get_by_label("Person to exclude").select_option(str(doctor.pk))
    page.get_by_label("How the patient asked").fill("Patient's neighbour; asked at the front desk")
    page.get_by_role("button", name="Record restriction").click()
    page.wait_for_selector("text=Restriction recorded")
    assert "in force" in page.inner_text("#restrictions")
    screenshot(page, "chartflow-11-restriction")
    assert "Ivo Snoop" in page.inner_text("#restrictions")
    # The attending named in the restriction cannot open the record.
    doctor_context, doctor_page = new_page(browser, live_server)
    try:
        sign_in_browser(doctor_page, doctor)
        doctor_page.goto(f"/clinical/patients/{patient}/")
        doctor_page.wait_for_selector("h1:has-text('No record you may open')")
        screenshot(doctor_page, "chartflow-12-excluded-physician")
        # Lifted: the attending gets the record back.
        page.get_by_role("button", name="Lift the restriction for Ivo Snoop").click()
        page.wait_for_selector("text=Restriction lifted.")
        assert "lifted" in page.inner_text("#restrictions")
        doctor_page.reload()
        doctor_page.wait_for_selector("h1:has-text('NORDMANN, Kari')")
        assert "Pneumonia" in doctor_page.inner_text("#encounters")
    finally:
        doctor_context.close()

    # Discharge is done by the ward (a nurse sees the encounter list).
    nurse = UserFactory(username="n.eva", first_name="Eva", roles=["nurse"], totp_secret=True)
    relate(nurse, patient, "care_team")
    nurse_context, nurse_page = new_page(browser, live_server)
    try:
        sign_in_browser(nurse_page, nurse)
        nurse_page.goto(f"/clinical/patients/{patient}/#encounters")
        assert "Arrived" in nurse_page.inner_text("#encounters")
        screenshot(nurse_page, "chartflow-13-encounter-active")
        nurse_page.get_by_role("button", name="Discharge").click()
        # She lands on a page she may open (her dashboard), not on the chart.
        nurse_page.wait_for_selector("text=Encounter finished (discharged).")
        nurse_page.wait_for_selector("h1:has-text('Good to see you')")
        screenshot(nurse_page, "chartflow-14-discharged")
        chart = gateway.chart_read(
            actor=nurse, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient
        )
        assert [e.status for e in chart.encounters] == ["finished"]
    finally:
        nurse_context.close()


def test_break_glass_banner_on_every_page_and_schedule_default(page, screenshot):
    clinic_a = Department.objects.create(code="a-derm", name="Dermatology clinic")
    own = Department.objects.create(code="z-ortho", name="Orthopaedics clinic")
    nurse = UserFactory(username="n.tomasz", first_name="Tomasz", roles=["nurse"], totp_secret=True)
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": own})
    patient = new_patient(given="Per", family="Hansen")
    sign_in_browser(page, nurse)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule").click()
    assert page.get_by_label("Clinic", exact=True).input_value() == str(own.pk)
    assert page.get_by_label("Clinic", exact=True).locator("option").first.inner_text() == clinic_a.name
    screenshot(page, "chartflow-20-schedule-own-clinic")

    gateway.break_glass_start(
        actor=nurse,
        session=WARD,
        patient_id=patient,
        reason_kind="unconscious",
        justification="Collapsed in the lobby.",
    )
    page.goto("/workforce/me/")  # not a clinical page
    banner = page.locator(".breakglass-banner")
    assert "EMERGENCY ACCESS ACTIVE" in banner.inner_text()
    assert "left" in banner.inner_text()
    screenshot(page, "chartflow-21-banner-on-workforce-page")
    banner.get_by_role("link", name="Open the record").click()
    page.wait_for_selector("h1:has-text('HANSEN, Per')")
    page.goto("/identity/sessions/")
    page.locator(".breakglass-banner").get_by_role("button", name="End emergency access now").click()
    page.wait_for_selector("text=Emergency access ended.")
    assert page.locator(".breakglass-banner").count() == 0
    screenshot(page, "chartflow-22-banner-ended")

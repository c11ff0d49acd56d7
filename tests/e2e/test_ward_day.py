"""A day on the ward in a real browser (issue 12): the registration clerk
admits a patient to a bed and sees a second admission refused; the lab
enters a critical potassium and the physician is notified at once and
acknowledges it; the nurse discharges from her ward's census and lands on a
page she may open. Screenshots: test-artifacts/screenshots/ward-*.png."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.identity.models import Department, NetworkZone, StaffProfile
from safeward.identity.network import zone_table
from tests.clinical.conftest import IMPORTER, WARD, new_patient
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def ward_zone(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()


def other_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_admit_notify_acknowledge_discharge(browser, page, live_server, screenshot):
    medicine = Department.objects.create(code="medicine", name="Internal medicine")
    Department.objects.create(code="finance", name="Finance", clinical=False)
    ward = gateway.ward_create(
        actor=IMPORTER,
        department_id=medicine.pk,
        code="med-3",
        name="Medicine ward 3",
        beds=["01", "02", "03"],
    )
    clerk = UserFactory(
        username="reg.rita", first_name="Rita", roles=["registration_clerk"], totp_secret=True
    )
    doctor = UserFactory(
        username="dr.amara", first_name="Amara", last_name="Lindqvist", roles=["physician"], totp_secret=True
    )
    nurse = UserFactory(
        username="n.tomasz", first_name="Tomasz", last_name="Oyelaran", roles=["nurse"], totp_secret=True
    )
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": medicine})
    patient = new_patient(given="Kari", family="Nordmann")

    # 1. The clerk admits Kari to bed 02 with Dr Lindqvist attending and the nurse admitting.
    sign_in_browser(page, clerk)
    assert page.locator("#arrivals, #worklist-arrivals").count() >= 1
    screenshot(page, "ward-01-clerk-worklist")
    page.goto(f"/clinical/patients/{patient}/")
    page.get_by_role("link", name="Admission & bed").click()
    assert "Not admitted" in page.inner_text("main")
    page.locator("#admit_bed").select_option(label="Medicine ward 3 · 02")
    page.get_by_label("Attending physician").select_option(str(doctor.pk))
    page.get_by_label("Admitting nurse").select_option(str(nurse.pk))
    page.get_by_label("Reason for admission").fill("Community-acquired pneumonia")
    screenshot(page, "ward-02-admit-form")
    page.get_by_role("button", name="Admit").click()
    page.wait_for_selector("text=Admitted to Medicine ward 3, bed 02.")
    assert "Medicine ward 3" in page.inner_text("h1")
    row = page.locator("#census-med-3 tbody tr", has_text="02")
    assert "NORDMANN, Kari" in row.inner_text()
    screenshot(page, "ward-03-census-after-admission")
    # A second admission is refused: the desk sees where the patient lies.
    page.goto(f"/clinical/patients/{patient}/admission/")
    assert "already admitted: Medicine ward 3, bed 02" in page.inner_text("main")
    assert page.locator("#admit-form").count() == 0
    screenshot(page, "ward-04-already-admitted")

    # 2. The physician orders a potassium; the lab enters a critical value.
    order = gateway.order_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        code="2823-3",
        display="Potassium",
    )
    tech = UserFactory(username="lab.ines", first_name="Ines", roles=["lab_technician"], totp_secret=True)
    lab_context, lab_page = other_page(browser, live_server)
    try:
        sign_in_browser(lab_page, tech)
        assert "Potassium" in lab_page.inner_text("#worklist-laboratory")
        lab_page.get_by_role("link", name="Enter results").click()
        lab_page.locator("#worklist tbody tr").first.get_by_label("Result for").fill("7.2")
        lab_page.get_by_role("button", name="Save result").click()
        lab_page.wait_for_selector(".message.success")
        assert "critically high" in lab_page.inner_text(".messages")
        screenshot(lab_page, "ward-05-lab-critical-potassium")
    finally:
        lab_context.close()

    doctor_context, doctor_page = other_page(browser, live_server)
    try:
        sign_in_browser(doctor_page, doctor)
        banner = doctor_page.locator(".critical-banner")
        assert "1 critical result" in banner.inner_text()
        results = doctor_page.locator("#results-to-review")
        assert "NORDMANN, Kari" in results.inner_text()
        assert "7.2 mmol/L" in results.inner_text()
        assert "Medicine ward 3 · bed 02" in doctor_page.inner_text("#worklist-physician")
        screenshot(doctor_page, "ward-06-physician-notified")
        # The care team shows the attending and the admitting nurse.
        doctor_page.goto(f"/clinical/patients/{patient}/")
        team = doctor_page.inner_text("#care-team")
        assert "Amara Lindqvist" in team
        assert "Tomasz Oyelaran" in team
        doctor_page.goto("/")
        results.get_by_role("button", name="Acknowledge").click()
        doctor_page.wait_for_selector("text=Result acknowledged.")
        assert doctor_page.locator(".critical-banner").count() == 0
        assert "No results waiting for you." in doctor_page.inner_text("#worklist-physician")
        screenshot(doctor_page, "ward-07-acknowledged")
    finally:
        doctor_context.close()
    ack = AuditEvent.objects.get(action="update", resource_type="ResultNotification", outcome="success")
    assert ack.actor_id == doctor.pk
    assert order.id in str(ack.detail)

    # 3. The nurse discharges from her ward's census and lands on the census.
    nurse_context, nurse_page = other_page(browser, live_server)
    try:
        sign_in_browser(nurse_page, nurse)
        census = nurse_page.locator("#census-med-3")
        assert "NORDMANN, Kari" in census.inner_text()
        screenshot(nurse_page, "ward-08-nurse-census")
        census.get_by_role("button", name="Discharge the patient in bed 02").click()
        nurse_page.wait_for_selector("text=Encounter finished (discharged).")
        assert nurse_page.url.endswith(f"/clinical/wards/{ward.id}/")
        assert "Medicine ward 3" in nurse_page.inner_text("h1")
        assert "NORDMANN" not in nurse_page.inner_text("main")
        assert "break the glass" not in nurse_page.inner_text("main").lower()
        screenshot(nurse_page, "ward-09-discharged-landing")
    finally:
        nurse_context.close()

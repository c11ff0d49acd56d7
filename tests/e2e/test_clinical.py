"""The clinical UI in a real browser: registration and scheduling, the chart
with add-note and result trends, and break-the-glass end to end (denied →
reason → step-up → access for the window → expired → reviewed). Screenshots
go to test-artifacts/screenshots/clinical-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.identity.models import Department, NetworkZone
from safeward.identity.network import zone_table
from tests.clinical.conftest import WARD, appointment_to_today, new_patient, relate
from tests.conftest import totp_now
from tests.e2e.conftest import log_in_with_password, nav_click
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def ward_zone():
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()


def sign_in_browser(page, user):
    log_in_with_password(page, user.username, TEST_PASSWORD)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.fill("input[name=code]", totp_now(user.test_totp_secret))
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Good to see you')")


def test_clerk_registers_and_books_then_physician_charts(browser, page, live_server, screenshot):
    clerk = UserFactory(
        username="reg.clerk", first_name="Rita", roles=["registration_clerk"], totp_secret=True
    )
    clinic = Department.objects.create(code="cardiology", name="Cardiology clinic")
    day = clock.now().date() + dt.timedelta(days=1)
    gateway.slots_create(
        actor=clerk,
        session=WARD,
        department_id=clinic.pk,
        day=day,
        start=dt.time(9),
        end=dt.time(11),
        minutes=30,
    )
    sign_in_browser(page, clerk)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("Given name").fill("Maja")
    page.get_by_label("Family name").fill("Brandtsæter")
    page.get_by_label("Date of birth").fill("1990-05-06")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Phone").fill("+47 22 00 00 00")
    page.get_by_label("Street address").fill("4 Harbour Road")
    page.get_by_label("City").fill("Dartmouth")
    page.get_by_label("State or region").fill("Massachusetts")
    page.get_by_label("Postal code").fill("02714")
    page.get_by_label("Insurer").fill("Acme Health")
    screenshot(page, "clinical-01-registration")
    page.get_by_role("button", name="Register").click()
    page.wait_for_selector(".message.success")
    assert "Maja" not in page.url
    assert "1990" not in page.url
    screenshot(page, "clinical-02-registered-chart-clerk-view")
    assert "4 Harbour Road, 02714 Dartmouth, Massachusetts" in page.locator("main").inner_text()
    assert page.locator("#notes").count() == 0  # registration never sees notes
    page.get_by_role("link", name="Book an appointment").click()
    page.get_by_label("Clinic", exact=True).select_option(str(clinic.pk))
    page.get_by_label("Day", exact=True).fill(day.isoformat())
    page.get_by_role("button", name="Show").click()
    page.get_by_role("button", name="Book 09:30").click()
    page.wait_for_selector(".message.success")
    screenshot(page, "clinical-03-day-view-booked")
    # Tomorrow's appointment is not checked in today (issue 12).
    assert page.get_by_role("button", name="Check in").count() == 0
    assert "Booked" in page.inner_text("#day-view")
    cancel = page.locator("#day-view form[action*='/cancel/']").get_attribute("action")
    appointment_to_today(cancel.split("/")[3])  # the day comes: the appointment is now
    page.goto("/")
    arrivals = page.locator("#arrivals")
    assert "BRANDTSÆTER, Maja" in arrivals.inner_text()
    arrivals.get_by_role("button", name="Check in").click()
    page.wait_for_selector("text=Checked in.")
    page.goto("/")
    assert "Checked in" in page.inner_text("#arrivals")
    assert page.locator("#arrivals").get_by_role("button", name="Check in").count() == 0
    screenshot(page, "clinical-03b-arrivals-checked-in")

    # A physician on the care team reads the chart, adds a note, sees trends.
    doctor = UserFactory(username="dr.amara", first_name="Amara", roles=["physician"], totp_secret=True)
    patient_id = (
        gateway.patient_search(
            actor=clerk,
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            name="brandt",
            birth_date=dt.date(1990, 5, 6),
        )
        .results[0]
        .id
    )
    relate(doctor, patient_id, "care_team")
    for value in ("79", "84", "71"):
        gateway.observation_record(
            actor=doctor,
            session=WARD,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=patient_id,
            category="vital-signs",
            code="8867-4",
            display="Heart rate",
            value=value,
            unit="/min",
        )
    gateway.allergy_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient_id,
        substance="Penicillin",
        reaction="Hives",
        criticality="high",
    )
    gateway.condition_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient_id,
        code="I10",
        display="Essential hypertension",
    )
    doctor_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    doctor_page = doctor_context.new_page()
    try:
        sign_in_browser(doctor_page, doctor)
        doctor_page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
        doctor_page.get_by_label("Name").fill("brandt maj")
        doctor_page.keyboard.press("Enter")
        doctor_page.get_by_role("link", name="BRANDTSÆTER, Maja").click()
        doctor_page.get_by_text("Add a note").click()
        doctor_page.get_by_label("Title").fill("Cardiology review")
        doctor_page.fill("#note-form textarea[name=text]", "Palpitations settled. Continue plan.")
        doctor_page.get_by_role("button", name="Save note").click()
        doctor_page.wait_for_selector(".message.success")
        assert "Palpitations settled" in doctor_page.inner_text("#notes")
        assert "Penicillin" in doctor_page.inner_text(".patient-banner")
        assert doctor_page.locator("#results svg.spark polyline").count() == 1
        screenshot(doctor_page, "clinical-04-chart-physician")
    finally:
        doctor_context.close()


def test_break_glass_end_to_end(browser, page, live_server, screenshot, frozen_clock):
    nurse = UserFactory(username="n.tomasz", first_name="Tomasz", roles=["nurse"], totp_secret=True)
    officer = UserFactory(
        username="po.olumide", first_name="Olumide", roles=["privacy_officer"], totp_secret=True
    )
    new_patient(given="Kari", family="Nordmann", mrn="MRN-7001")
    sign_in_browser(page, nurse)

    # Denied: no relationship.
    page.goto("/clinical/")
    page.fill("input[name=mrn]", "MRN-7001")
    page.click("form.patient-search button[type=submit]")
    page.get_by_role("link", name="NORDMANN, Kari").click()
    page.wait_for_selector("h1:has-text('No record you may open')")
    screenshot(page, "clinical-10-denied")

    # The second factor is no longer fresh: breaking the glass asks for it again.
    frozen_clock.advance(minutes=6)
    page.get_by_role("link", name="Break the glass…").click()
    page.wait_for_url("**/accounts/2fa/reauthenticate/**")
    page.fill("input[name=code]", totp_now(nurse.test_totp_secret, offset=1))
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Break the glass')")
    page.get_by_label("Reason").select_option("unconscious")
    page.get_by_label("Explain the emergency").fill("Found unresponsive in the car park; no team on shift.")
    screenshot(page, "clinical-11-break-glass-dialog")
    page.get_by_role("button", name="Open the record in an emergency").click()
    page.wait_for_selector(".breakglass-banner")
    assert "EMERGENCY ACCESS ACTIVE" in page.inner_text(".breakglass-banner")
    assert "NORDMANN, Kari" in page.inner_text("h1")
    screenshot(page, "clinical-12-emergency-access")

    # Access lasts for the window (keep the session alive while time passes)...
    for _ in range(5):
        frozen_clock.advance(minutes=11)
        page.reload()
        assert "NORDMANN, Kari" in page.inner_text("h1")
    # ... and ends by itself after it.
    frozen_clock.advance(minutes=6)
    page.reload()
    page.wait_for_selector("h1:has-text('No record you may open')")
    assert page.locator(".breakglass-banner").count() == 0
    screenshot(page, "clinical-13-expired")
    reads = AuditEvent.objects.filter(
        actor_id=nurse.pk, action="read", resource_type="Chart", outcome="success"
    )
    assert reads.count() == 6
    assert set(reads.values_list("purpose_of_use", flat=True)) == {"ETREAT"}

    # The privacy officer reviews the use.
    officer_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    officer_page = officer_context.new_page()
    try:
        sign_in_browser(officer_page, officer)
        nav_click(officer_page, "Break-glass review")
        row = officer_page.locator("#review-queue tbody tr").first
        assert "Found unresponsive" in row.inner_text()
        assert "6" in row.inner_text()
        screenshot(officer_page, "clinical-14-review-queue")
        row.get_by_label("Decision").select_option("justified")
        row.get_by_label("Note").fill("ED resuscitation, appropriate.")
        row.get_by_role("button", name="Record").click()
        officer_page.wait_for_selector(".message.success")
        assert "Nothing here." in officer_page.inner_text("#review-queue")
        screenshot(officer_page, "clinical-15-reviewed")
    finally:
        officer_context.close()
    assert AuditEvent.objects.filter(
        action="update", resource_type="BreakGlassGrant", actor_id=officer.pk
    ).exists()

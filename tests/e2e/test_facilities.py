"""Physical security in a real browser (issue 15): the security desk signs a
visitor in from one short form and gets the printable badge.
Screenshots: test-artifacts/screenshots/facilities-*.png."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from safeward import clock
from safeward.demo.facilities import nwipe_demo_log
from safeward.devices.models import Device
from safeward.facilities import services
from safeward.facilities.models import Certificate
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.facilities.conftest import CERTIFICATE
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_security_desk_signs_in_a_visitor_and_prints_the_badge(browser, page, live_server, screenshot):
    desk = UserFactory(username="desk.sam", first_name="Sam", roles=["security_desk"], totp_secret=True)
    sign_in_browser(page, desk)
    nav_click(page, "Visitor desk")
    page.wait_for_selector("h1:has-text('Visitor desk')")
    # The name field has the focus: the desk types straight away (once the browser applied it).
    # Polled by the locator, not by a JavaScript string (the CSP refuses eval).
    expect(page.locator("input[name=name]")).to_be_focused()
    page.keyboard.type("Ada Guest")
    page.fill("input[name=host]", "Dr Chen")
    page.fill("input[name=badge_number]", "V-12")
    screenshot(page, "facilities-visitor-desk")
    page.click("#sign-in")
    page.wait_for_selector("#visitor-badge")
    assert "Ada Guest" in page.inner_text("#visitor-badge")
    assert page.locator("#print").is_visible()
    screenshot(page, "facilities-visitor-badge")


def _laptop() -> Device:
    now = clock.now()
    return Device.objects.create(
        kind="laptop",
        asset_tag="LAP-0042",
        serial="PF-12345",
        lifecycle="retired",
        created_at=now,
        updated_at=now,
    )


def test_an_it_technician_records_a_sanitization_and_disposes_of_a_laptop(
    browser, page, live_server, screenshot
):
    laptop = _laptop()
    tech = UserFactory(username="ida.tech", first_name="Ida", roles=["it_admin"], totp_secret=True)
    second = UserFactory(username="ben.biomed", roles=["biomedical_engineer"], totp_secret=True)
    sign_in_browser(page, tech)
    nav_click(page, "Disposal queue")
    page.click("text=Record a sanitization")
    page.wait_for_selector("h1:has-text('Certificate of sanitization')")
    page.fill("input[name=device_id]", str(laptop.pk))
    for name in (
        "person_name", "person_title", "person_organisation", "person_location", "person_phone",
        "media_make", "media_model", "media_serial", "media_property_number", "media_source", "tool_version",
    ):  # fmt: skip
        page.fill(f"input[name={name}]", str(CERTIFICATE[name]))
    page.set_input_files(
        "input[name=evidence]",
        files=[
            {"name": "nwipe.log", "mimeType": "text/plain", "buffer": nwipe_demo_log("PF-12345", model="T14")}
        ],
    )
    screenshot(page, "facilities-sanitization-form")
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Certificate of sanitization #')")
    certificate = Certificate.objects.get(device_id=laptop.pk)
    assert certificate.operator_id == tech.pk
    assert len(certificate.evidence_sha256) == 64
    # Not validated yet: the way out is refused, on the page.
    page.fill("input[name=pickup]", "PALLET-7")
    page.click("#dispose")
    page.wait_for_selector("#refused")
    assert "validated by a second person" in page.inner_text("#refused")
    screenshot(page, "facilities-disposal-refused")
    # The second person (a biomedical engineer) validates; the technician disposes.
    services.certificate_validate(actor=second, certificate_id=certificate.pk)
    page.goto(f"/facilities/certificates/{certificate.pk}/")
    page.fill("input[name=pickup]", "PALLET-7")
    page.click("#dispose")
    page.wait_for_selector("text=Disposal recorded")
    screenshot(page, "facilities-disposal-recorded")
    laptop.refresh_from_db()
    assert laptop.lifecycle == "disposed"
    certificate.refresh_from_db()
    assert certificate.pickup == "PALLET-7"
    assert certificate.disposed_at is not None


def test_the_privacy_officer_sees_the_certificates_patient_count(browser, page, live_server, screenshot):
    from safeward.assets.models import ExportManifest
    from safeward.workforce.models import Person

    laptop = _laptop()
    tech = UserFactory(username="ida.tech", roles=["it_admin"], totp_secret=True)
    second = UserFactory(username="ben.biomed", roles=["biomedical_engineer"], totp_secret=True)
    nurse = UserFactory(username="nina.nurse", roles=["nurse"])
    holder = Person.objects.create(  # test setup: an active person holding the laptop
        employee_number="E-1", first_name="Nina", last_name="Nurse", user=nurse,
        start_date=clock.now().date(), status=Person.Status.ACTIVE, activated_at=clock.now(),
    )  # fmt: skip
    services.custody_record(actor=tech, kind="issued", device_id=laptop.pk, holder_person_id=holder.pk)
    ExportManifest.objects.create(
        created_at=clock.now(), actor_id=nurse.pk, kind="csv", route="test", purpose="treatment",
        patient_ids=["p1", "p2", "p3"], patient_count=3, sha256="a" * 64, byte_count=1,
        manifest_sha256="b" * 64,
    )  # fmt: skip
    certificate = services.certificate_record(actor=tech, fields=dict(CERTIFICATE), device_id=laptop.pk)
    services.certificate_validate(actor=second, certificate_id=certificate.pk)
    privacy = UserFactory(username="pia.privacy", roles=["privacy_officer"], totp_secret=True)
    sign_in_browser(page, privacy)
    nav_click(page, "Disposal queue")
    page.wait_for_selector("h1:has-text('Disposal queue')")
    row = page.locator("#queue tbody tr", has_text=f"#{certificate.pk}")
    assert row.locator("td").nth(6).inner_text().strip() == "3"
    assert page.locator("text=Record a sanitization").count() == 0  # reads, does not record
    screenshot(page, "facilities-privacy-disposal-queue")
    row.locator("a", has_text=f"#{certificate.pk}").click()
    page.wait_for_selector("#patients-in-scope")
    assert page.inner_text("#patients-in-scope").startswith("3 patients whose data may have been on it")
    assert page.locator("#dispose").count() == 0
    screenshot(page, "facilities-privacy-certificate")


def test_the_desk_finds_an_inpatient_and_the_badge_names_the_bed(browser, page, live_server, screenshot):
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.identity.models import Department, NetworkZone
    from safeward.identity.network import zone_table
    from tests.clinical.conftest import IMPORTER, WARD, new_patient

    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()
    department = Department.objects.create(code="ward-a", name="Ward A")
    doctor = UserFactory(roles=["physician"], profile=department)
    gateway.ward_create(
        actor=IMPORTER, department_id=department.pk, code="a1", name="Ward A1", beds=["1", "2"]
    )
    patient = new_patient(given="Ina", family="Bedford", mrn="MRN-E2E-1")
    gateway.admission_admit(
        actor=UserFactory(roles=["registration_clerk"]),
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=patient,
        bed_id=gateway.beds_free()[1].id,
        attending_id=doctor.pk,
    )
    desk = UserFactory(username="desk.sam", roles=["security_desk"], totp_secret=True)
    sign_in_browser(page, desk)
    nav_click(page, "Visitor desk")
    # Polled by the locator, not by a JavaScript string (the CSP refuses eval).
    expect(page.locator("input[name=name]")).to_be_focused()
    page.keyboard.type("Ada Guest")
    page.fill("input[name=patient_given_name]", "Ina")
    page.fill("input[name=patient_family_name]", "Bedford")
    page.fill("input[name=badge_number]", "V-21")
    page.click("#find-patient")
    page.wait_for_selector("text=Ina B. — Ward A1, bed 2")
    assert page.url.removeprefix(live_server.url) == "/facilities/visitors/"  # no names in the URL
    screenshot(page, "facilities-visitor-patient-found")
    page.click("#sign-in")
    page.wait_for_selector("#visitor-badge")
    assert "Go to: Ward A1, bed 2" in page.inner_text("#visitor-badge")
    screenshot(page, "facilities-visitor-patient-badge")


def test_the_security_officer_places_a_workstation_and_sees_unbadged_reads(
    browser, page, live_server, screenshot, settings
):
    from tests.facilities.test_chart_access import _chart_read

    settings.TIME_ZONE = "America/New_York"  # the hospital's zone (SAFEWARD_TIME_ZONE)

    site = services.site_create(actor=None, name="Main campus", time_zone="America/New_York")
    records = services.area_create(
        actor=None,
        site=site,
        code="records",
        name="Records room",
        kind="records_room",
        classification="restricted",
    )
    now = clock.now()
    Device.objects.create(
        kind="workstation", asset_tag="WS-REC-1", ip_address="10.20.0.5", lifecycle="in_service",
        created_at=now, updated_at=now,
    )  # fmt: skip
    clerk = UserFactory(username="rita.clerk", roles=["registration_clerk"])
    officer = UserFactory(  # a short name: a long one overlaps the Facilities menu at 1280 px
        username="sec.officer",
        first_name="Sam",
        last_name="Lee",
        roles=["security_officer"],
        totp_secret=True,
    )
    sign_in_browser(page, officer)
    nav_click(page, "Secure workstations")
    page.wait_for_selector("h1:has-text('Workstations in secure areas')")
    page.fill("input[name=asset_tag]", "WS-REC-1")
    page.select_option("select[name=area]", str(records.pk))
    page.click("#place-form button[type=submit]")
    page.wait_for_selector("text=Workstation placed")
    _chart_read(clerk, "10.20.0.5", at=clock.now() - dt.timedelta(minutes=30))
    page.reload()
    row = page.locator("#unbadged tbody tr").first
    assert "rita.clerk" in row.inner_text()
    assert "WS-REC-1" in row.inner_text()
    expect(page.locator("#unbadged thead")).to_contain_text("When (America/New_York)")
    expect(page.locator("#time-zone-note")).to_contain_text("America/New_York")
    screenshot(page, "facilities-workstations")

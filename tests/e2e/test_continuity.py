"""Downtime in a real browser (issue 19): during a declared downtime the
charge nurse of a ward sees the read-only banner, opens "Downtime kits" and
downloads the ward's kit, which opens with the ward workstation's key into
the printable PDF. Screenshots: test-artifacts/screenshots/continuity-*.png."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import SystemActor
from safeward.continuity import offline, services
from safeward.identity.models import Department, StaffProfile
from tests.clinical.conftest import WARD, new_patient
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_charge_nurse_downloads_the_ward_kit_during_downtime(
    browser, page, live_server, screenshot, settings, tmp_path
):
    settings.SAFEWARD_DOWNTIME_KIT_DIR = str(tmp_path / "kits")
    medicine = Department.objects.create(code="medicine", name="Medicine")
    ward = gateway.ward_create(
        actor=SystemActor("cli"), department_id=medicine.pk, code="m1", name="Ward M1", beds=["1", "2"]
    )
    clerk = UserFactory(roles=["registration_clerk"], totp_secret=True)
    doctor = UserFactory(roles=["physician"], totp_secret=True)
    patient = new_patient(given="Ines", family="Kowalczyk", mrn="E2E-KIT-1")
    bed = next(b.id for b in gateway.beds_free() if b.ward_id == ward.id and b.label.endswith(" · 1"))
    gateway.admission_admit(
        actor=clerk,
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=patient,
        bed_id=bed,
        attending_id=doctor.pk,
    )
    unit, private = services.kit_unit_enrol(actor=None, ward_code="m1")
    services.kit_generate(unit=unit)
    nurse = UserFactory(
        username="charge.nurse", first_name="Nadia", last_name="Okoro", roles=["nurse"], totp_secret=True
    )
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": medicine})
    admin = UserFactory(roles=["it_admin"], totp_secret=True)
    services.downtime_declare(actor=admin, kind="unplanned", reason="EHR database outage")

    sign_in_browser(page, nurse)
    assert page.locator("#downtime-banner").is_visible()
    nav_click(page, "Downtime kits")
    page.wait_for_selector("h1:has-text('Downtime kits')")
    screenshot(page, "continuity-kits")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download kit").click()
    data = Path(download.value.path()).read_bytes()
    header, pdf = offline.open_kit(data, private)
    assert header["ward_code"] == "m1"
    assert header["patients"] == 1
    assert pdf.startswith(b"%PDF")


def test_a_nurse_finds_the_patient_by_mrn_and_enters_paper_vitals(
    page, live_server, screenshot, frozen_clock
):
    """After the downtime (ADRs 1415, 1416): the queued vital-signs record's
    patient is found by MRN, the paper's values are typed in, an unusual one is
    confirmed, and the chart holds measurements at the paper's time."""
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table
    from tests.clinical.conftest import relate

    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()
    medicine = Department.objects.create(code="medicine", name="Medicine")
    gateway.ward_create(
        actor=SystemActor("cli"), department_id=medicine.pk, code="m1", name="Ward M1", beds=["1"]
    )
    patient = new_patient(given="Ines", family="Kowalczyk", mrn="E2E-PAPER-1")
    unit, _private = services.kit_unit_enrol(actor=None, ward_code="m1")
    services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=10)
    nurse = UserFactory(
        username="ward.nurse", first_name="Nadia", last_name="Okoro", roles=["nurse"], totp_secret=True
    )
    colleague = UserFactory(roles=["nurse"], totp_secret=True)
    relate(nurse, patient, "care_team")
    admin = UserFactory(roles=["it_admin"], totp_secret=True)
    downtime = services.downtime_declare(actor=admin, kind="unplanned", reason="EHR database outage")
    frozen_clock.advance(minutes=30)
    entry = services.paper_entry_record(
        actor=nurse,
        downtime=downtime,
        encounter_number="DTM1-1",
        kind="vital_signs",
        occurred_at=frozen_clock.now(),
        performed_by=colleague,
    )
    frozen_clock.advance(hours=1)
    services.downtime_end(actor=admin, downtime=downtime)

    sign_in_browser(page, nurse)
    page.goto(f"{live_server.url}/continuity/recovery/")
    page.get_by_text("Enter into the chart").click()
    page.get_by_label("MRN").fill("E2E-PAPER-1")
    page.get_by_role("button", name="Find the patient").click()
    page.wait_for_selector("text=Kowalczyk, Ines · MRN E2E-PAPER-1")
    page.get_by_label("Heart rate (/min)").fill("15")
    page.get_by_label("Body temperature (Cel)").fill("37.4")
    screenshot(page, "continuity-paper-vitals")
    page.get_by_role("button", name="Enter the measurements").click()
    page.wait_for_selector("#chart-error")
    assert "Heart rate" in page.locator("#chart-error").inner_text()
    page.get_by_label("I have checked the unusual values against the paper").check()
    screenshot(page, "continuity-paper-vitals-confirm")
    page.get_by_role("button", name="Enter the measurements").click()
    page.wait_for_selector("text=In the chart as 2 measurements")
    entry.refresh_from_db()
    assert len(entry.chart_observation_ids) == 2


def test_a_nurse_enters_a_paper_dose_a_colleague_verifies_it_and_the_chart_shows_it(
    page, live_server, screenshot, frozen_clock
):
    """After the downtime (ADRs 1419, 1420): the nurse who cares for the
    patient enters the paper MAR's dose against the kit's order number; the
    ward's charge nurse, a second person, verifies it; the chart's
    "Medication administrations" shows it from paper, verified."""
    from safeward.clinical.gateway._late_entries import order_reference
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table
    from tests.clinical.conftest import relate

    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()
    medicine = Department.objects.create(code="medicine", name="Medicine")
    gateway.ward_create(
        actor=SystemActor("cli"), department_id=medicine.pk, code="m1", name="Ward M1", beds=["1"]
    )
    patient = new_patient(given="Ines", family="Kowalczyk", mrn="E2E-MAR-1")
    unit, _private = services.kit_unit_enrol(actor=None, ward_code="m1")
    services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=10)
    nurse = UserFactory(
        username="ward.nurse", first_name="Nadia", last_name="Okoro", roles=["nurse"], totp_secret=True
    )
    charge = UserFactory(
        username="charge.nurse", first_name="Chidi", last_name="Mensah", roles=["nurse"], totp_secret=True
    )
    doctor = UserFactory(roles=["physician"], totp_secret=True)
    relate(nurse, patient, "care_team")
    relate(charge, patient, "department")
    relate(doctor, patient, "care_team")
    order = gateway.medication_request_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        medication="Paracetamol 1 g",
    )
    admin = UserFactory(roles=["it_admin"], totp_secret=True)
    downtime = services.downtime_declare(actor=admin, kind="unplanned", reason="EHR database outage")
    frozen_clock.advance(minutes=30)
    services.paper_entry_record(
        actor=nurse,
        downtime=downtime,
        encounter_number="DTM1-1",
        kind="medication_given",
        occurred_at=frozen_clock.now(),
        performed_by=nurse,
    )
    frozen_clock.advance(hours=1)
    services.downtime_end(actor=admin, downtime=downtime)

    sign_in_browser(page, nurse)
    page.goto(f"{live_server.url}/continuity/recovery/")
    page.get_by_text("Enter into the chart").click()
    page.get_by_label("MRN").fill("E2E-MAR-1")
    page.get_by_role("button", name="Find the patient").click()
    page.wait_for_selector("text=Kowalczyk, Ines · MRN E2E-MAR-1")
    page.get_by_label("Order number (from the downtime kit)").fill(order_reference(uuid.UUID(order.id)))
    page.get_by_label("Dose").fill("1")
    page.get_by_label("Unit (mg, g, mL, [iU]…)").fill("g")
    page.get_by_label("Route").select_option("oral")
    screenshot(page, "continuity-paper-mar")
    page.get_by_role("button", name="Enter the dose").click()
    page.wait_for_selector("text=In the chart as 1 dose given")
    # The one who entered it is offered no Verify button.
    assert page.get_by_role("button", name="Verify DTM1-1").count() == 0
    page.context.clear_cookies()

    sign_in_browser(page, charge)
    page.goto(f"{live_server.url}/continuity/recovery/")
    page.get_by_role("button", name="Verify DTM1-1").click()
    page.wait_for_selector("text=Verified.")
    page.goto(f"{live_server.url}/clinical/patients/{patient}/")
    section = page.locator("#administrations")
    section.wait_for()
    text = section.inner_text()
    assert "Paracetamol 1 g" in text
    assert "paper (downtime)" in text
    assert "verified" in text
    assert "Chidi Mensah" in text
    assert "Nadia Okoro" in text
    section.scroll_into_view_if_needed()
    screenshot(page, "continuity-paper-mar-chart")

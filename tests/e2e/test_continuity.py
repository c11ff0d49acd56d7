"""Downtime in a real browser (issue 19): during a declared downtime the
charge nurse of a ward sees the read-only banner, opens "Downtime kits" and
downloads the ward's kit, which opens with the ward workstation's key into
the printable PDF. Screenshots: test-artifacts/screenshots/continuity-*.png."""

from __future__ import annotations

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

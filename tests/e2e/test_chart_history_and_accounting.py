"""Issue 12 in a real browser: the chart shows immunizations, procedures
and diagnostic reports (a report opens to its results), and the privacy
officer finds a patient's accounting of disclosures by MRN, the criteria
never in a URL. Screenshots: test-artifacts/screenshots/history-*.png."""

from __future__ import annotations

import pytest

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.identity.models import NetworkZone
from safeward.identity.network import zone_table
from tests.clinical.chart_items import patient_with_items
from tests.clinical.conftest import WARD, relate
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def ward_zone():
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()


def test_the_chart_shows_immunizations_procedures_and_reports(page, screenshot):
    doctor = UserFactory(
        username="dr.berg", first_name="Lena", last_name="Berg", roles=["physician"], totp_secret=True
    )
    patient = patient_with_items(2, family="Halvorsen", mrn="MRN-H1")
    relate(doctor, patient, "care_team")
    sign_in_browser(page, doctor)
    page.goto(f"/clinical/patients/{patient}/")
    nav = page.get_by_role("navigation", name="Chart sections")
    for name in ("Reports", "Procedures", "Immunizations"):
        assert nav.get_by_role("link", name=name).is_visible()
    immunizations = page.locator("#immunizations")
    assert immunizations.get_by_role("heading", name="Immunizations").is_visible()
    assert immunizations.locator("tbody tr").count() == 2
    assert "Influenza, seasonal, injectable, preservative free" in immunizations.inner_text()
    procedures = page.locator("#procedures")
    assert "Appendectomy" in procedures.inner_text()
    assert "Acute appendicitis" in procedures.inner_text()
    reports = page.locator("#reports")
    assert "Complete blood count panel" in reports.inner_text()
    nav.get_by_role("link", name="Reports").click()
    reports.locator("summary").first.click()
    result_list = reports.locator(".report-results").first
    result_list.wait_for()
    assert "Hemoglobin: 13.9" in result_list.inner_text()
    assert "Leukocytes: 6.1" in result_list.inner_text()
    path = screenshot(page, "history-chart")
    reports.screenshot(path=str(path.parent / "history-reports.png"))


def test_the_privacy_officer_finds_the_accounting_by_mrn(page, screenshot):
    nurse = UserFactory(
        username="rn.moss", first_name="Ida", last_name="Moss", roles=["nurse"], totp_secret=True
    )
    patient = patient_with_items(1, family="Okafor", mrn="MRN-7731")
    relate(nurse, patient, "care_team")
    gateway.chart_read(actor=nurse, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    officer = UserFactory(
        username="po.ahmed", first_name="Sara", last_name="Ahmed", roles=["privacy_officer"], totp_secret=True
    )
    sign_in_browser(page, officer)
    page.goto("/audit/disclosures/")
    page.get_by_role("link", name="Find the patient by MRN, or by name and date of birth").click()
    page.get_by_label("Medical record number").fill("MRN-7731")
    screenshot(page, "history-accounting-lookup")
    page.get_by_role("button", name="Find the patient").click()
    page.wait_for_url("**/audit/disclosures/?patient=*")
    assert "MRN-7731" not in page.url
    table = page.locator("table").first
    text = table.inner_text()
    assert "No recorded access" not in text
    assert "Moss" in text or "rn.moss" in text
    assert "search Patient" in text  # the lookup itself is in the patient's accounting
    screenshot(page, "history-accounting")

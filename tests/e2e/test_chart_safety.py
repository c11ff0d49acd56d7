"""Issue 12 in a real browser: the physician orders amoxicillin for a
penicillin-allergic patient, sees the allergy warning and chooses another
drug; then amends a note and sees the earlier version. Screenshots go to
test-artifacts/screenshots/safety-*.png."""

from __future__ import annotations

import pytest

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.identity.models import NetworkZone
from safeward.identity.network import zone_table
from tests.clinical.conftest import WARD, new_patient, relate
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def ward_zone():
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()


def test_allergy_warning_then_another_drug_then_a_note_amendment(page, screenshot):
    doctor = UserFactory(
        username="dr.okafor", first_name="Ngozi", last_name="Okafor", roles=["physician"], totp_secret=True
    )
    patient = new_patient(given="Lena", family="Varga")
    relate(doctor, patient, "care_team")
    treat = {"actor": doctor, "session": WARD, "purpose": PurposeOfUse.TREATMENT, "patient_id": patient}
    gateway.allergy_create(**treat, substance="Penicillin", reaction="Hives and wheeze", criticality="high")
    gateway.note_create(
        **treat, title="Admission note", text="Community-acquired pneumonia. Start antibiotics."
    )
    sign_in_browser(page, doctor)
    page.goto(f"/clinical/patients/{patient}/")

    # 1. Order amoxicillin: the allergy warning stops it.
    page.get_by_text("Order a medication").click()
    page.get_by_role("textbox", name="Medication").fill("Amoxicillin 500 mg capsule")
    page.get_by_label("Dosage").fill("500 mg three times daily")
    page.get_by_role("button", name="Order", exact=True).click()
    warning = page.locator("#allergy-warning")
    warning.wait_for()
    assert "Penicillins" in warning.inner_text()
    assert "Penicillin" in warning.inner_text()
    assert page.get_by_role("textbox", name="Medication").input_value() == "Amoxicillin 500 mg capsule"
    screenshot(page, "safety-01-allergy-warning")

    # 2. Choose another drug instead: no override reason needed.
    page.get_by_role("textbox", name="Medication").fill("Doxycycline 100 mg capsule")
    page.get_by_label("Dosage").fill("100 mg twice daily")
    page.get_by_role("button", name="Order", exact=True).click()
    page.wait_for_selector("text=Medication ordered.")
    medications = page.inner_text("#medications")
    assert "Doxycycline 100 mg capsule" in medications
    assert "Amoxicillin" not in medications
    assert "awaiting verification" in medications
    screenshot(page, "safety-02-another-drug")

    # 3. Amend the note: the earlier version stays and is shown.
    page.locator("#notes").get_by_role("link", name="Amend").click()
    page.locator("#id_text").fill(
        "Community-acquired pneumonia. Penicillin allergy: doxycycline instead of amoxicillin."
    )
    page.get_by_label("Reason for the amendment").fill("Antibiotic changed for the allergy")
    screenshot(page, "safety-03-amend-form")
    page.get_by_role("button", name="Save amendment").click()
    page.wait_for_selector("text=Note amended.")
    notes = page.locator("#notes")
    assert "doxycycline instead of amoxicillin" in notes.inner_text()
    notes.get_by_text("Earlier version").click()
    assert "Start antibiotics." in notes.inner_text()
    assert "amended" in notes.inner_text()
    screenshot(page, "safety-04-note-versions")


def test_duplicate_warning_at_registration_and_an_amendment_request_denied(
    page, browser, live_server, screenshot
):
    clerk = UserFactory(
        username="clerk.ito",
        first_name="Yui",
        last_name="Ito",
        roles=["registration_clerk"],
        totp_secret=True,
    )
    doctor = UserFactory(
        username="dr.berg", first_name="Lars", last_name="Berg", roles=["physician"], totp_secret=True
    )
    existing = new_patient(given="Lena", family="Varga")
    relate(doctor, existing, "care_team")
    sign_in_browser(page, clerk)

    # The clerk registers "Lena Varga" again: the candidate is shown and must be confirmed.
    page.goto("/clinical/patients/new/")
    page.get_by_label("Given name").fill("Lena")
    page.get_by_label("Family name").fill("Varga")
    page.get_by_label("Date of birth").fill("1980-02-03")
    page.get_by_role("button", name="Register").click()
    page.locator("#duplicates").wait_for()
    assert "VARGA, Lena" in page.inner_text("#duplicates")
    assert page.get_by_label("Family name").input_value() == "Varga"
    screenshot(page, "safety-05-possible-duplicate")

    # It is the same person: the clerk opens the record and records her amendment request.
    page.locator("#duplicates").get_by_role("link", name="VARGA, Lena").click()
    page.get_by_text("Record a request to amend the record").click()
    page.get_by_label("What the patient asks to amend, and why").fill(
        "The admission note gives the wrong date for the start of the cough."
    )
    page.get_by_role("button", name="Record request").click()
    page.wait_for_selector("text=Amendment request recorded.")
    assert "awaiting a decision" in page.inner_text("#amendments")

    # The physician denies it with a reason; the clerk attaches the statement of disagreement.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    doctor_page = context.new_page()
    sign_in_browser(doctor_page, doctor)
    doctor_page.goto(f"/clinical/patients/{existing}/#amendments")
    doctor_page.locator("#amendments").get_by_text("Deny", exact=True).click()
    doctor_page.get_by_label("Reason for the denial").fill("The date was confirmed with the GP letter.")
    doctor_page.get_by_role("button", name="Deny the request").click()
    doctor_page.wait_for_selector("text=Amendment request denied.")
    context.close()
    page.reload()  # the clerk's chart, now with the decision
    page.get_by_label("Patient's statement of disagreement").fill("I am sure the cough began a week earlier.")
    page.get_by_role("button", name="Attach statement").click()
    page.wait_for_selector("text=Statement of disagreement attached.")
    amendments = page.inner_text("#amendments")
    assert "denied" in amendments
    assert "I am sure the cough began a week earlier." in amendments
    page.locator("#amendments").scroll_into_view_if_needed()
    screenshot(page, "safety-06-amendment-denied")

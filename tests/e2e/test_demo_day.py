"""Issue 12, a day in the demo: one hospital day on the seeded demo data, each
role in its own browser, axe-core on every page visited.

1. The registration clerk checks in today's first arrival, sees that an
   inpatient cannot be admitted twice, gets the duplicate warning when she
   registers a patient who exists already, and admits the arrival to a bed.
2. The physician lands on her worklists, orders amoxicillin for her
   penicillin-allergic patient, sees the warning and orders another drug.
3. The lab enters a critical potassium; the physician is notified at once
   and acknowledges.
4. The pharmacist verifies the physician's order.
5. The nurse sees her ward's census and transfers the patient to another bed.
6. The physician amends her note (the earlier version kept) and discharges
   the patient, landing on a page she may open.
7. HR terminates the demo nurse, whose next click is refused.

The clock stands at 07:00 in the hospital's zone, so today's clinic is still
ahead whatever the hour the test runs. Screenshots:
test-artifacts/screenshots/day-*.png."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import PatientView
from safeward.identity.models import User
from safeward.workforce.models import Person
from tests.clinical.conftest import WARD
from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import nav_click, sign_in_demo

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREEN = {"width": 1366, "height": 900}


@pytest.fixture
def morning() -> Iterator[clock.FrozenClock]:
    """07:00 today in the hospital's time zone, before the demo is seeded."""
    today = timezone.localdate(dt.datetime.now(dt.UTC))
    start = dt.datetime.combine(today, dt.time(7), tzinfo=timezone.get_current_timezone())
    frozen = clock.FrozenClock(start)
    previous = clock.install(frozen)
    yield frozen
    clock.install(previous)


def _patient(mrn: str) -> PatientView:
    """A demo patient's demographics, as the demo registration clerk sees them."""
    clerk = User.objects.get(username="demo.registration_clerk")
    found = gateway.patient_search(actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, mrn=mrn)
    assert len(found.results) == 1, mrn
    return found.results[0]


def _bed(page: Any, ward: str, label: str) -> Any:
    """A census row by its bed label (the row header)."""
    header = page.locator("th", has_text=re.compile(f"^{re.escape(label)}$"))
    return page.locator(f"#census-{ward} tbody tr").filter(has=header)


class Day:
    """The browsers of the day and what axe-core found on their pages."""

    def __init__(self, browser: Any, live_server: Any, credentials: dict[str, Any], screenshot: Any) -> None:
        self.browser = browser
        self.live_server = live_server
        self.credentials = credentials
        self.screenshot = screenshot
        self.problems: list[str] = []
        self.contexts: list[Any] = []
        self.step = 0

    def sign_in(self, role: str) -> Any:
        context = self.browser.new_context(base_url=self.live_server.url, viewport=SCREEN)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        sign_in_demo(page, self.credentials[role], self.problems)
        return page

    def look(self, page: Any, name: str) -> None:
        """axe-core on the page as it is, and a screenshot to look at."""
        self.problems.extend(describe(page.url, axe_violations(page)))
        self.step += 1
        self.screenshot(page, f"day-{self.step:02d}-{name}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def test_a_day_in_the_demo(browser, live_server, morning, demo_credentials_seeded_here, screenshot):
    day = Day(browser, live_server, demo_credentials_seeded_here, screenshot)
    try:
        _the_day(day)
    finally:
        day.close()
    assert not day.problems, "Accessibility violations or page errors:\n" + "\n".join(day.problems)


def _the_day(day: Day) -> None:
    arrival = _patient("DEMO-00011")  # the physician's penicillin-allergic patient, at 08:00 today
    inpatient = _patient("DEMO-00007")  # admitted by the seed

    # 1. The clerk's morning: arrivals, check-in, a refused second admission, a duplicate, an admission.
    clerk = day.sign_in("registration_clerk")
    arrivals = clerk.locator("#arrivals")
    row = arrivals.locator("tbody tr").filter(has_text=arrival.display_name)
    assert "Booked" in row.inner_text()
    day.look(clerk, "clerk-arrivals")
    row.get_by_role("button", name="Check in").click()
    clerk.wait_for_selector(".message.success")
    checked_in = clerk.locator("#arrivals tbody tr").filter(has_text=arrival.display_name)
    assert "Checked in" in checked_in.inner_text()
    day.look(clerk, "clerk-checked-in")

    clerk.goto(f"/clinical/patients/{inpatient.id}/admission/")
    assert "already admitted" in clerk.inner_text("main")
    assert inpatient.display_name in clerk.inner_text("h1")
    assert clerk.locator("#admit-form").count() == 0
    day.look(clerk, "clerk-already-admitted")

    # Registering the arrival again (same name and birth date) shows her record as a candidate.
    nav_click(clerk, "Patients")
    clerk.get_by_role("link", name="Register a patient").click()
    clerk.get_by_label("Given name").fill(arrival.given_name or "")
    clerk.get_by_label("Family name").fill(arrival.family_name or "")
    clerk.get_by_label("Date of birth").fill(arrival.birth_date.isoformat() if arrival.birth_date else "")
    clerk.get_by_role("button", name="Register").click()
    clerk.locator("#duplicates").wait_for()
    assert arrival.display_name in clerk.inner_text("#duplicates")
    day.look(clerk, "clerk-duplicate-warning")
    clerk.locator("#duplicates").get_by_role("link", name=arrival.display_name).click()

    # It is her: the clerk admits her to the emergency observation unit.
    clerk.goto(f"/clinical/patients/{arrival.id}/admission/")
    assert arrival.display_name in clerk.inner_text("h1")  # the desk admits the right person
    assert "Not admitted" in clerk.inner_text("main")
    clerk.locator("#admit_bed").select_option(label="Emergency observation unit · 02")
    clerk.get_by_label("Attending physician").select_option(label="Amara Lindqvist")
    clerk.get_by_label("Admitting nurse").select_option(label="Tomasz Oyelaran")
    clerk.get_by_label("Reason for admission").fill("Chest pain under observation")
    day.look(clerk, "clerk-admit-form")
    clerk.get_by_role("button", name="Admit").click()
    clerk.wait_for_selector("text=Admitted to Emergency observation unit, bed 02.")
    assert arrival.display_name in _bed(clerk, "ed-obs", "02").inner_text()
    day.look(clerk, "clerk-census-after-admission")

    # 2. The physician's worklists; amoxicillin for her penicillin-allergic patient is stopped.
    doctor = day.sign_in("physician")
    work = doctor.inner_text("#worklist-physician")
    assert arrival.display_name in work  # today's clinic, my inpatients, my patients
    assert "Emergency observation unit · bed 02" in work
    assert "08:00 " + arrival.display_name in work
    assert "Checked in" in work  # a readable status
    # My patients: one row per patient, "Attending physician" once (seeded, then admitted).
    mine = doctor.locator("#worklist-physician ul").last
    assert mine.locator("li", has_text=arrival.display_name).count() == 1
    assert "attending physician" not in mine.inner_text()
    day.look(doctor, "physician-worklists")
    doctor.locator("#worklist-physician").get_by_role("link", name=arrival.display_name).first.click()
    doctor.get_by_text("Order a medication").click()
    doctor.get_by_role("textbox", name="Medication").fill("Amoxicillin 500 mg capsule")
    doctor.get_by_label("Dosage").fill("500 mg three times daily")
    doctor.get_by_role("button", name="Order", exact=True).click()
    warning = doctor.locator("#allergy-warning")
    warning.wait_for()
    assert "Penicillin" in warning.inner_text()
    day.look(doctor, "physician-allergy-warning")
    doctor.get_by_role("textbox", name="Medication").fill("Doxycycline 100 mg capsule")
    doctor.get_by_label("Dosage").fill("100 mg twice daily")
    doctor.get_by_role("button", name="Order", exact=True).click()
    doctor.wait_for_selector("text=Medication ordered.")
    medications = doctor.inner_text("#medications")
    assert "Doxycycline 100 mg capsule" in medications
    assert "Amoxicillin" not in medications
    day.look(doctor, "physician-ordered-doxycycline")
    doctor.get_by_text("Add a note").click()
    note = doctor.locator("#note-form")
    note.get_by_label("Title").fill("Admission note")
    note.get_by_label("Note").fill(
        "Chest pain since this morning. Observe; doxycycline for the chest infection."
    )
    note.get_by_role("button", name="Save note").click()
    doctor.wait_for_selector("text=Note added.")

    # 3. The lab enters a critical potassium for one of the physician's patients.
    potassium = _patient("DEMO-00012")
    lab = day.sign_in("lab_technician")
    day.look(lab, "lab-worklist-dashboard")
    lab.get_by_role("link", name="Enter results").click()
    rows = lab.locator("#worklist tbody tr")
    row = rows.filter(has_text=potassium.display_name).filter(has_text="Potassium")
    row.get_by_label("Result for").fill("7.1")
    lab.get_by_role("button", name="Save result").first.wait_for()
    row.get_by_role("button", name="Save result").click()
    lab.wait_for_selector(".message.success")
    assert "critically high" in lab.inner_text(".messages")
    day.look(lab, "lab-critical-potassium")

    doctor.goto("/")
    assert "1 critical result" in doctor.locator(".critical-banner").inner_text()
    results = doctor.locator("#results-to-review")
    assert potassium.display_name in results.inner_text()
    assert "7.1 mmol/L" in results.inner_text()
    day.look(doctor, "physician-notified")
    results.locator("tr", has_text=potassium.display_name).get_by_role("button", name="Acknowledge").click()
    doctor.wait_for_selector("text=Result acknowledged.")
    assert doctor.locator(".critical-banner").count() == 0
    day.look(doctor, "physician-acknowledged")
    assert AuditEvent.objects.filter(
        action="update", resource_type="ResultNotification", outcome="success"
    ).exists()

    # 4. The pharmacist verifies the doxycycline order.
    pharmacist = day.sign_in("pharmacist")
    assert "Doxycycline 100 mg capsule" in pharmacist.inner_text("#worklist-pharmacy")
    day.look(pharmacist, "pharmacist-worklist")
    pharmacist.get_by_role("link", name="Verify orders").click()
    order = pharmacist.locator("#orders-to-verify tbody tr", has_text="Doxycycline")
    order.get_by_label("Decision").select_option(label="Verify")
    day.look(pharmacist, "pharmacist-verify-form")
    order.get_by_role("button", name="Save").click()
    pharmacist.wait_for_selector(".message.success")
    assert "Doxycycline" not in pharmacist.inner_text("#orders-to-verify")
    day.look(pharmacist, "pharmacist-verified")

    # 5. The nurse's census: she moves the patient to the next bed.
    nurse = day.sign_in("nurse")
    census = nurse.locator("#census-ed-obs")
    assert arrival.display_name in _bed(nurse, "ed-obs", "02").inner_text()
    day.look(nurse, "nurse-census")
    census.get_by_role("link", name="Transfer or discharge the patient in bed 02").click()
    assert arrival.display_name in nurse.inner_text("h1")
    nurse.locator("#transfer-form select").first.select_option(label="Emergency observation unit · 03")
    day.look(nurse, "nurse-transfer-form")
    nurse.get_by_role("button", name="Transfer").click()
    nurse.wait_for_selector("text=Transferred to Emergency observation unit, bed 03.")
    assert arrival.display_name in _bed(nurse, "ed-obs", "03").inner_text()
    day.look(nurse, "nurse-transferred")

    # 6. The physician amends her clinic note and discharges the patient.
    doctor.goto(f"/clinical/patients/{arrival.id}/")
    assert "Doxycycline 100 mg capsule" in doctor.inner_text("#medications")
    doctor.locator("#notes").get_by_role("link", name="Amend the note Admission note").click()
    doctor.locator("#id_text").fill(
        "Chest pain since this morning. Observe; doxycycline for the chest infection "
        "(penicillin allergy: not amoxicillin)."
    )
    doctor.get_by_label("Reason for the amendment").fill("The allergy was not documented")
    day.look(doctor, "physician-amend-note")
    doctor.get_by_role("button", name="Save amendment").click()
    doctor.wait_for_selector("text=Note amended.")
    notes = doctor.locator("#notes")
    notes.get_by_text("Earlier version").first.click()
    assert "(penicillin allergy: not amoxicillin)" in notes.inner_text()
    earlier = notes.locator(".note.superseded").first.inner_text()
    assert "doxycycline for the chest infection." in earlier
    assert "penicillin" not in earlier
    day.look(doctor, "physician-note-versions")
    doctor.get_by_role("button", name=re.compile("^Discharge: finish the inpatient encounter")).click()
    doctor.wait_for_selector("text=Encounter finished (discharged).")
    assert "Emergency observation unit" in doctor.inner_text("h1")  # the ward's census
    assert "break the glass" not in doctor.inner_text("main").lower()
    assert arrival.display_name not in doctor.inner_text("main")
    day.look(doctor, "physician-discharged")

    # 7. HR terminates the demo nurse; her next click is refused.
    hr = day.sign_in("hr_officer")
    nav_click(hr, "Workforce")
    hr.get_by_role("link", name="Tomasz Oyelaran").click()
    hr.select_option("#terminate-form select[name=when]", "now")
    hr.fill("#terminate-form input[name=reason]", "Left the hospital")
    day.look(hr, "hr-terminate")
    hr.click("#terminate-form button[type=submit]")
    hr.wait_for_selector(".message.success")
    day.look(hr, "hr-terminated")
    assert Person.objects.get(user__username="demo.nurse").status == Person.Status.TERMINATED
    nav_click(nurse, "Dashboard")
    nurse.wait_for_selector("h1:has-text('Your session has ended')")
    day.look(nurse, "nurse-refused")


def test_the_operator_sets_up_a_ward(browser, live_server, demo_credentials, screenshot):
    """The demo IT administrator adds a ward with its beds from Settings, then
    adds two beds and removes an unused one."""
    day = Day(browser, live_server, demo_credentials, screenshot)
    day.step = 30
    try:
        admin = day.sign_in("it_admin")
        nav_click(admin, "Wards and beds")
        admin.wait_for_url("**/clinical/wards/setup/")
        assert "Medicine ward 3" in admin.inner_text("#ward-setup")
        form = admin.locator("#ward-form")
        form.get_by_label("Department").select_option(label="Surgery")
        form.get_by_label("Code").fill("surg-day")
        form.get_by_label("Name").fill("Day surgery unit")
        form.get_by_label("Beds").fill("1-6,recovery")
        day.look(admin, "operator-new-ward")
        form.get_by_role("button", name="Add ward").click()
        admin.wait_for_selector("text=Ward Day surgery unit added with 7 beds.")
        day.look(admin, "operator-ward-added")
        admin.get_by_label("Add beds").fill("7-8")
        admin.get_by_label("recovery").check()
        admin.get_by_role("button", name="Save ward").click()
        admin.wait_for_selector("text=Ward Day surgery unit saved: 8 beds.")
        assert "recovery" not in admin.inner_text("#ward-beds")
        day.look(admin, "operator-ward-saved")
    finally:
        day.close()
    assert not day.problems, "Accessibility violations or page errors:\n" + "\n".join(day.problems)

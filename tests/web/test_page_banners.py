"""What every signed-in page shows around its content, and what it costs
(ADR 0307): each banner appears exactly while its condition holds, the
navigation follows the script prefix, context values that a page does not
render are not read, and the queries of a signed-in page stay pinned."""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from django.db import connection
from django.template import engines
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import set_script_prefix

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.continuity import services as continuity_services
from safeward.identity.selectors import user_permissions
from safeward.web.context_processors import safeward
from safeward.workforce import services as workforce_services
from safeward.workforce.models import TrainingAssignment
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
TREAT, OPS = PurposeOfUse.TREATMENT, PurposeOfUse.OPERATIONS
BREAK_GLASS = 'class="breakglass-banner"'


def _page(user, path: str = "/") -> str:
    client = Client()
    sign_in(client, user)
    response = client.get(path)
    assert response.status_code in {200, 404}, path
    return response.content.decode()


def _break_glass(user, patient, minutes: int = 60):
    return gateway.break_glass_start(
        actor=user,
        session=WARD,
        patient_id=patient,
        reason_kind="emergency_care",
        justification="Collapsed in the corridor, no team.",
        minutes=minutes,
    )


# --- break-the-glass ----------------------------------------------------------------------------------
def test_break_glass_banner_shows_each_active_grant_soonest_first(make_user, frozen_clock):
    nurse = make_user("nurse")
    first, second = new_patient(), new_patient(family="Other")
    assert BREAK_GLASS not in _page(nurse)
    later = _break_glass(nurse, first, minutes=90)
    sooner = _break_glass(nurse, second, minutes=30)
    page = _page(nurse, "/no-such-page/")  # every page, the 404 too
    assert page.count(BREAK_GLASS) == 2
    assert page.index(f"/clinical/patients/{sooner.patient_id}/") < page.index(
        f"/clinical/patients/{later.patient_id}/"
    )
    assert f"/clinical/break-glass/{sooner.id}/end/" in page
    assert "until 09:30" in page
    assert "30\xa0minutes left" in page


def test_break_glass_banner_goes_when_the_grant_ends_or_expires(make_user, frozen_clock):
    nurse = make_user("nurse")
    ended = _break_glass(nurse, new_patient())
    _break_glass(nurse, new_patient(family="Other"), minutes=30)
    gateway.break_glass_end(actor=nurse, grant_id=ended.id)
    assert _page(nurse).count(BREAK_GLASS) == 1
    frozen_clock.advance(minutes=30)  # expires_at is not "active" any more
    assert BREAK_GLASS not in _page(nurse)


def test_break_glass_banner_is_the_holders_only(make_user, frozen_clock):
    nurse, colleague = make_user("nurse"), make_user("nurse")
    _break_glass(nurse, new_patient())
    assert BREAK_GLASS not in _page(colleague)
    assert BREAK_GLASS not in _page(make_user("hr_officer"))  # no clinical permission at all


# --- critical results ---------------------------------------------------------------------------------
def _result(doctor, lab, patient, value: str) -> None:
    order = gateway.order_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, code="2823-3", display="Potassium"
    )
    gateway.order_result(
        actor=lab,
        session=WARD,
        purpose=OPS,
        patient_id=patient,
        order_id=order.id,
        value=value,
        unit="mmol/L",
    )


def test_critical_results_banner_counts_only_the_orderers_critical_unacknowledged(make_user):
    doctor, colleague, lab = make_user("physician"), make_user("physician"), make_user("lab_technician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    _result(doctor, lab, patient, "4.2")  # normal: waits on the worklist, no banner
    assert "critical-banner" not in _page(doctor)
    _result(doctor, lab, patient, "7.1")
    _result(doctor, lab, patient, "7.3")
    page = _page(doctor, "/no-such-page/")
    assert "2 critical results</strong> of your orders wait for you" in page
    assert 'href="/#results-to-review"' in page
    assert "critical-banner" not in _page(colleague)
    worklist = gateway.physician_worklist(actor=doctor, session=WARD, purpose=TREAT)
    for notification in [n for n in worklist.results if n.critical]:
        gateway.result_notification_acknowledge(
            actor=doctor, session=WARD, purpose=TREAT, notification_id=notification.id
        )
    assert "critical-banner" not in _page(doctor)


# --- training, downtime, demo -------------------------------------------------------------------------
def test_training_banner_only_while_training_is_overdue(make_user, frozen_clock):
    from safeward.workforce.models import Person

    user = make_user("physician")
    course = workforce_services.training_course_save(actor=None, code="security", title="Security")
    person = Person.objects.create(
        employee_number="E1",
        first_name="A",
        last_name="B",
        user=user,
        start_date=dt.date(2025, 1, 1),
        status=Person.Status.ACTIVE,
        activated_at=frozen_clock.now(),
    )
    due = TrainingAssignment.objects.create(
        person=person,
        course=course,
        assigned_at=frozen_clock.now() - dt.timedelta(days=30),
        due_at=frozen_clock.now() + dt.timedelta(days=1),
    )
    assert 'id="training-banner"' not in _page(user)
    frozen_clock.advance(days=2)
    assert 'id="training-banner"' in _page(user)
    workforce_services.training_complete(actor=make_user("hr_officer"), person=person, course=course)
    due.refresh_from_db()
    assert due.completed_at is not None
    assert 'id="training-banner"' not in _page(user)


def test_downtime_banner_only_during_downtime(make_user):
    admin = make_user("it_admin")
    assert 'id="downtime-banner"' not in _page(admin)
    downtime = continuity_services.downtime_declare(actor=admin, kind="unplanned", reason="EHR outage")
    assert 'id="downtime-banner"' in _page(admin, "/no-such-page/")
    continuity_services.downtime_end(actor=admin, downtime=downtime)
    assert 'id="downtime-banner"' not in _page(admin)


def test_demo_banner_only_in_demo_mode(make_user, settings):
    user = make_user("nurse")
    assert "demo-banner" not in _page(user)
    settings.SAFEWARD_DEMO = True
    assert "demo-banner" in _page(user)


# --- second factor and navigation ---------------------------------------------------------------------
def test_no_navigation_until_a_second_factor_and_then_at_once(make_user):
    user = make_user("nurse", mfa=False)
    client = Client()
    sign_in(client, user)
    page = client.get("/accounts/enrol/").content.decode()
    assert 'aria-label="Main"' not in page
    assert 'class="who"' in page
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": generate_totp_secret()}
    )
    page = client.get("/accounts/enrol/").content.decode()  # not remembered as "not enrolled"
    assert 'aria-label="Main"' in page
    assert 'href="/identity/sessions/"' in page


def test_navigation_follows_the_script_prefix(make_user):
    user = make_user("nurse")
    request = RequestFactory().get("/")
    request.user = user
    request.session = {}
    try:
        set_script_prefix("/safeward/")
        prefixed = safeward(request)
    finally:
        set_script_prefix("/")
    plain = safeward(request)
    prefixed_urls = [entry["url"] for entry in prefixed["safeward_menu"]["bar"] if "url" in entry]
    assert prefixed_urls
    assert all(url.startswith("/safeward/") for url in prefixed_urls)
    assert prefixed["safeward_links"]["logout"] == "/safeward/accounts/logout/"
    assert [entry["url"] for entry in plain["safeward_menu"]["bar"] if "url" in entry] == [
        url.removeprefix("/safeward") for url in prefixed_urls
    ]
    assert plain["safeward_links"]["logout"] == "/accounts/logout/"


def test_navigation_shows_what_the_permissions_grant_and_nothing_to_a_locked_account(make_user):
    nurse = make_user("nurse")
    request = RequestFactory().get("/")
    request.user = nurse
    request.session = {}
    labels = [entry["label"] for entry in safeward(request)["safeward_menu"]["bar"]]
    assert "Wards" in labels
    assert "Workforce" not in labels
    nurse.locked_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    labels = [entry["label"] for entry in safeward(request)["safeward_menu"]["bar"]]
    assert labels == ["Dashboard", "Policy library"]  # the entries every signed-in person has


# --- cost ---------------------------------------------------------------------------------------------
def test_a_page_that_renders_no_banner_reads_nothing_for_them(make_user):
    doctor = make_user("physician")
    request = RequestFactory().get("/")
    request.user = doctor
    request.session = {"safeward_mfa_enrolled": doctor.pk}
    user_permissions(user=doctor)  # as the middleware leaves it
    with CaptureQueriesContext(connection) as queries:
        engines["django"].from_string("plain").render({}, request)
    assert [q["sql"] for q in queries.captured_queries] == []


def test_a_signed_in_page_takes_a_fixed_number_of_queries(make_user, django_assert_max_num_queries):
    """The session, the account, its session row, the workforce state, the
    roles, the policy gate, the downtime flag (cache) and the clinical
    banners: eight, whatever the number of navigation entries and banners."""
    doctor = make_user("physician")
    patient = new_patient()
    _break_glass(doctor, patient)
    client = Client()
    sign_in(client, doctor)
    assert client.get("/no-such-page/").status_code == 404  # the first one remembers the second factor
    with django_assert_max_num_queries(8):
        page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert BREAK_GLASS in page.content.decode()
    officer = Client()
    sign_in(officer, make_user("hr_officer"))
    assert officer.get("/no-such-page/").status_code == 404
    with django_assert_max_num_queries(7):  # no clinical permission: no banner statement
        assert officer.get("/no-such-page/").status_code == 404

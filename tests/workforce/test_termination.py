"""Termination: immediate or planned; at that moment the account is
disabled, every session and OAuth token dies, break-glass is cut through the
extension point, badges and devices are listed for recovery, all audited;
the next request of an open session is refused; later logins are audited."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken, set_token_value

from safeward.audit.models import AuditEvent
from safeward.identity.models import RoleAssignment, User, UserSession
from safeward.workforce import extensions, services
from safeward.workforce.models import Person, RecoveryItem, Termination
from tests.conftest import sign_in
from tests.factories import TEST_PASSWORD


def issue_token(user) -> str:
    """A bearer token as django-oauth-toolkit issues it (hashed at rest)."""
    application = Application.objects.create(
        name="ward tablet",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://tablet.hospital.test/callback",
        user=None,
    )
    raw = secrets.token_urlsafe(32)
    access = AccessToken(
        user=user, application=application, expires=timezone.now() + dt.timedelta(hours=1), scope="read"
    )
    set_token_value(access, raw)
    access.save()
    refresh = RefreshToken(user=user, application=application, access_token=access)
    set_token_value(refresh, secrets.token_urlsafe(32))
    refresh.save()
    return raw


@pytest.fixture
def clinician(make_user, make_person, catalog):
    user = make_user("physician")
    person = make_person(user=user, position=catalog["positions"]["physician"])
    return user, person


def test_immediate_termination_ends_everything(clinician, hr, client, monkeypatch):
    user, person = clinician
    sign_in(client, user)
    token = issue_token(user)
    services.item_issue(actor=hr, person=person, kind="badge", identifier="B-4711")
    services.item_issue(
        actor=hr, person=person, kind="device", identifier="TAB-0042", description="ward tablet"
    )
    cut = []

    def end_break_glass(*, user, reason):
        cut.append((user.pk, reason))
        return 1

    # Stand in for the clinical app's break-glass cut-off (restored afterwards).
    monkeypatch.setitem(extensions._cutoffs, "breakglass", end_break_glass)
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    termination = services.termination_schedule(
        actor=hr, person=person, effective_at=services.clock.now(), reason="dismissal"
    )
    assert termination.status == Termination.Status.APPLIED
    assert termination.applied_via == "immediate"
    user.refresh_from_db()
    person.refresh_from_db()
    assert not user.is_active
    assert person.status == Person.Status.TERMINATED
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert not AccessToken.objects.filter(user=user).exists()
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()
    assert not RoleAssignment.objects.filter(user=user, status="active").exists()
    assert cut == [(user.pk, "termination")]
    assert sorted(RecoveryItem.objects.values_list("identifier", flat=True)) == ["B-4711", "TAB-0042"]

    # The open browser session is refused on its very next request.
    response = client.get("/")
    assert response.status_code == 401
    assert "Your session has ended" in response.content.decode()
    # The API token no longer works.
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401

    applied = AuditEvent.objects.get(detail__event="termination_apply")
    assert applied.actor_id == hr.pk
    assert applied.detail["oauth_revoked"] == 1
    assert applied.detail["cutoffs"] == ["breakglass:1"]
    assert applied.detail["recovery_items"] == 2
    assert applied.detail["roles_revoked"] == ["physician"]
    assert AuditEvent.objects.filter(action="account_update", resource_id=str(user.pk)).exists()
    assert AuditEvent.objects.filter(action="role_revoke", detail__user_id=user.pk).exists()


def test_planned_termination_is_refused_on_the_request_path_before_the_worker(
    clinician, hr, client, frozen_clock
):
    user, person = clinician
    sign_in(client, user)
    services.termination_schedule(
        actor=hr,
        person=person,
        effective_at=frozen_clock.now() + dt.timedelta(minutes=10),
        reason="contract ends",
    )
    assert client.get("/").status_code == 200
    frozen_clock.advance(minutes=11)
    # No worker has run; the request itself is refused and applies the termination.
    response = client.get("/")
    assert response.status_code == 401
    termination = Termination.objects.get(person=person)
    assert termination.status == Termination.Status.APPLIED
    assert termination.applied_via == "request"
    assert not User.objects.get(pk=user.pk).is_active
    assert AuditEvent.objects.filter(
        action="login", outcome="denied", detail__reason="workforce_terminated"
    ).exists()


def test_planned_termination_refuses_the_api_before_the_worker(clinician, hr, client, frozen_clock):
    user, person = clinician
    token = issue_token(user)
    services.termination_schedule(
        actor=hr,
        person=person,
        effective_at=frozen_clock.now() + dt.timedelta(minutes=10),
        reason="contract ends",
    )
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    frozen_clock.advance(minutes=11)
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403


def test_the_worker_applies_due_terminations(make_user, make_person, hr, frozen_clock, catalog):
    due = make_person(user=make_user("nurse"))
    later = make_person(user=make_user("nurse"))
    services.termination_schedule(
        actor=hr, person=due, effective_at=frozen_clock.now() + dt.timedelta(hours=1)
    )
    services.termination_schedule(
        actor=hr, person=later, effective_at=frozen_clock.now() + dt.timedelta(days=3)
    )
    frozen_clock.advance(hours=2)
    call_command("workforce", "apply-due")
    assert Termination.objects.get(person=due).applied_via == "worker"
    assert Termination.objects.get(person=later).status == Termination.Status.SCHEDULED
    call_command("workforce", "apply-due")  # idempotent
    assert Termination.objects.filter(status="applied").count() == 1


def test_a_later_login_attempt_is_an_audited_event(clinician, hr, client):
    user, person = clinician
    services.termination_schedule(actor=hr, person=person, effective_at=services.clock.now(), reason="left")
    client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    event = AuditEvent.objects.filter(
        action="login", outcome="denied", detail__reason="workforce_terminated"
    ).get()
    assert event.actor_id == user.pk
    assert event.detail["channel"] == "login"


def test_cancel_a_planned_termination(clinician, hr, frozen_clock):
    _, person = clinician
    termination = services.termination_schedule(
        actor=hr, person=person, effective_at=frozen_clock.now() + dt.timedelta(days=1)
    )
    services.termination_cancel(actor=hr, termination=termination, reason="contract extended")
    person.refresh_from_db()
    assert person.access_ends_at is None


def test_a_failing_cutoff_leaves_nothing_half_done(clinician, hr, monkeypatch):
    user, person = clinician

    def broken(*, user, reason):
        raise RuntimeError("break-glass store unavailable")

    monkeypatch.setitem(extensions._cutoffs, "breakglass", broken)
    with pytest.raises(RuntimeError):
        services.termination_schedule(actor=hr, person=person, effective_at=services.clock.now())
    assert User.objects.get(pk=user.pk).is_active
    assert not Termination.objects.exists()


def test_termination_page_needs_step_up_and_hr(clinician, hr, client, make_user):
    _, person = clinician
    nurse_client = client
    sign_in(nurse_client, make_user("nurse"))
    assert (
        nurse_client.post(
            f"/workforce/people/{person.pk}/terminate/", {"when": "now", "reason": "x"}
        ).status_code
        == 403
    )
    sign_in(client, hr)
    response = client.post(f"/workforce/people/{person.pk}/terminate/", {"when": "now", "reason": "left"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.status == Person.Status.TERMINATED

"""Identity's control tests (issue 18, ADR 0920): each fails on a seeded
violation, on that resource, and passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.compliance import discover
from safeward.identity import services
from safeward.identity.models import Role, RoleAssignment, UserSession

pytestmark = pytest.mark.django_db

# control id -> (the test that sees it fail on a seeded violation, the one that sees it pass)
COVERED_CONTROLS = {
    "identity.mfa_on_active_accounts": (
        "test_mfa_fails_for_an_account_without_a_second_factor",
        "test_mfa_passes_with_one",
    ),
    "identity.sessions_time_out": (
        "test_sessions_fail_on_a_session_used_past_its_lifetime",
        "test_sessions_pass_within_their_limits",
    ),
    "identity.it_admins_without_clinical_access": (
        "test_sod_fails_for_an_it_admin_who_is_also_a_nurse",
        "test_sod_passes_for_an_it_admin_alone",
    ),
    "identity.privileged_roles_two_person": (
        "test_two_person_fails_for_a_command_line_grant_and_a_self_approval",
        "test_two_person_passes_when_a_second_person_approved",
    ),
}


def run(control_id: str) -> dict[str, object]:
    """{resource id: Check} of one control at the clock's now."""
    return {check.resource_id: check for check in discover()[control_id].run(clock.now())}


def test_mfa_fails_for_an_account_without_a_second_factor(make_user):
    user = make_user("nurse", mfa=False)
    check = run("identity.mfa_on_active_accounts")[str(user.pk)]
    assert not check.passed
    assert check.evidence == {"second_factors": []}
    assert check.label == user.username


def test_mfa_passes_with_one(make_user):
    user = make_user("nurse")
    checks = run("identity.mfa_on_active_accounts")
    assert checks[str(user.pk)].passed
    assert checks[str(user.pk)].evidence == {"second_factors": ["totp"]}
    # A disabled account is not judged: it cannot sign in.
    disabled = make_user("nurse", mfa=False, is_active=False)
    assert str(disabled.pk) not in run("identity.mfa_on_active_accounts")


def _session(user, *, created: dt.datetime, seen: dt.datetime) -> UserSession:
    return UserSession.objects.create(
        user=user, session_key=f"k{user.pk}", created_at=created, last_seen_at=seen, client_ip="127.0.0.1"
    )


def test_sessions_fail_on_a_session_used_past_its_lifetime(make_user, frozen_clock, settings):
    user = make_user("nurse")
    now = clock.now()
    stale = _session(user, created=now - dt.timedelta(hours=13), seen=now - dt.timedelta(minutes=1))
    checks = run("identity.sessions_time_out")
    assert not checks[str(stale.pk)].passed
    assert checks[str(stale.pk)].evidence["used_past_lifetime_seconds"] == 3540
    assert checks["SAFEWARD_SESSION_IDLE_MINUTES"].passed
    # A configured idle time-out above the threshold fails too.
    settings.SAFEWARD_SESSION_IDLE_MINUTES = 60
    assert not run("identity.sessions_time_out")["SAFEWARD_SESSION_IDLE_MINUTES"].passed
    settings.SAFEWARD_SESSION_ABSOLUTE_HOURS = 24
    assert not run("identity.sessions_time_out")["SAFEWARD_SESSION_ABSOLUTE_HOURS"].passed


def test_sessions_pass_within_their_limits(make_user, frozen_clock):
    user = make_user("nurse")
    now = clock.now()
    live = _session(user, created=now - dt.timedelta(hours=11), seen=now)
    # Old and idle but never marked ended: the guard ends it on its next request.
    idle = _session(user, created=now - dt.timedelta(days=3), seen=now - dt.timedelta(days=3, minutes=-5))
    checks = run("identity.sessions_time_out")
    assert str(live.pk) not in checks
    assert str(idle.pk) not in checks
    assert all(check.passed for check in checks.values())
    assert set(checks) == {"SAFEWARD_SESSION_IDLE_MINUTES", "SAFEWARD_SESSION_ABSOLUTE_HOURS"}


def test_sod_fails_for_an_it_admin_who_is_also_a_nurse(make_user):
    user = make_user("it_admin", "nurse")
    check = run("identity.it_admins_without_clinical_access")[str(user.pk)]
    assert not check.passed
    assert check.evidence["clinical_roles"] == ["nurse"]
    assert "clinical:chart:read" in check.evidence["clinical_permissions"]


def test_sod_passes_for_an_it_admin_alone(make_user):
    admin = make_user("it_admin")
    nurse = make_user("nurse")
    checks = run("identity.it_admins_without_clinical_access")
    assert checks[str(admin.pk)].passed
    assert checks[str(admin.pk)].evidence["roles"] == ["it_admin"]
    assert str(nurse.pk) not in checks  # not an IT administrator


def test_two_person_fails_for_a_command_line_grant_and_a_self_approval(make_user):
    grantee = make_user()
    assignment = services.role_request(actor=None, user=grantee, role=Role.objects.get(code="auditor"))
    check = run("identity.privileged_roles_two_person")[str(assignment.pk)]
    assert not check.passed
    assert "granted at the command line" in check.evidence["problems"]
    # Seeded directly: the service refuses a self-approval, the control must see one anyway.
    requester = make_user("it_admin")
    other = make_user()
    forged = RoleAssignment.objects.create(
        user=other,
        role=Role.objects.get(code="security_officer"),
        status=RoleAssignment.Status.ACTIVE,
        requested_by=requester,
        requested_at=clock.now(),
        decided_by=requester,
        decided_at=clock.now(),
    )
    forged_check = run("identity.privileged_roles_two_person")[str(forged.pk)]
    assert not forged_check.passed
    assert forged_check.evidence["problems"] == ["approved by the requester or the grantee"]


def test_two_person_passes_when_a_second_person_approved(make_user):
    requester = make_user("it_admin")
    approver = make_user("security_officer")
    grantee = make_user()
    assignment = services.role_request(actor=requester, user=grantee, role=Role.objects.get(code="auditor"))
    assert str(assignment.pk) not in run("identity.privileged_roles_two_person")  # pending: not judged
    services.role_approve(actor=approver, assignment=assignment)
    check = run("identity.privileged_roles_two_person")[str(assignment.pk)]
    assert check.passed
    assert check.evidence["requested_by"] == requester.pk
    assert check.evidence["approved_by"] == approver.pk

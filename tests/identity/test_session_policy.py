"""One session at a time for chosen roles (issue 11, item 9; ADR 0009): the
security officer chooses the roles (step-up, audited); a new sign-in of such
an account ends its older sessions, audited, and the older browser is told why."""

from __future__ import annotations

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.identity import services
from safeward.identity.errors import NotPermitted
from safeward.identity.models import SingleSessionRole, UserSession
from tests.conftest import sign_in, totp_now
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def full_sign_in(user, address: str, *, offset: int) -> Client:
    client = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=f"browser at {address}")
    response = client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret, offset)})
    assert response.status_code == 302
    return client


def test_the_security_officer_chooses_the_roles_with_step_up_and_audit(signed_in):
    client, officer = signed_in("security_officer")
    assert client.get("/identity/session-policy/").status_code == 200
    response = client.post("/identity/session-policy/", {"roles": ["it_admin", "nurse"]})
    assert response.status_code == 302
    assert set(SingleSessionRole.objects.values_list("role__code", flat=True)) == {"it_admin", "nurse"}
    event = AuditEvent.objects.get(action="config_change", resource_type="SessionPolicy")
    assert event.actor_id == officer.pk
    assert event.detail == {"single_session_roles": ["it_admin", "nurse"], "before": []}


def test_changing_the_policy_needs_a_recent_second_factor(client, make_user):
    officer = make_user("security_officer")
    sign_in(client, officer, mfa=False)
    response = client.post("/identity/session-policy/", {"roles": ["nurse"]})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/reauthenticate/")
    assert not SingleSessionRole.objects.exists()


def test_only_the_security_officer_may_change_it(make_user):
    with pytest.raises(NotPermitted, match="security:config:manage"):
        services.single_session_roles_set(actor=make_user("it_admin"), role_codes=["it_admin"])
    assert not SingleSessionRole.objects.exists()


def test_a_new_sign_in_ends_the_older_session_of_a_single_session_role(make_user):
    services.single_session_roles_set(actor=make_user("security_officer"), role_codes=["nurse"])
    nurse = make_user("nurse")
    first = full_sign_in(nurse, "10.20.1.15", offset=0)
    assert first.get("/").status_code == 200
    second = full_sign_in(nurse, "198.51.100.23", offset=1)
    assert second.get("/").status_code == 200

    ended = first.get("/")
    assert ended.status_code == 401
    assert b"signed in somewhere else" in ended.content
    older = UserSession.objects.get(user=nurse, client_ip="10.20.1.15")
    assert older.end_reason == "superseded"
    assert UserSession.objects.filter(user=nurse, ended_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(action="session_end", detail__reason="superseded").count() == 1
    # The two clients still overlapped: detection sees the shared account.
    detect_pending()
    assert Alert.objects.filter(rule="concurrent_sessions", subject_user_id=nurse.pk).exists()


def test_other_roles_keep_their_concurrent_sessions(make_user):
    services.single_session_roles_set(actor=make_user("security_officer"), role_codes=["nurse"])
    physician = make_user("physician")
    first = full_sign_in(physician, "10.20.1.15", offset=0)
    second = full_sign_in(physician, "10.20.1.16", offset=1)
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 200
    assert UserSession.objects.filter(user=physician, ended_at__isnull=True).count() == 2

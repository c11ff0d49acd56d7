"""Separation of duties, the role catalog, and step-up on sensitive actions."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.identity import services
from safeward.identity.errors import SeparationOfDuties
from safeward.identity.models import Role, RoleAssignment, User, UserSession
from safeward.identity.permissions import Perm
from safeward.identity.roles import BY_CODE, CATALOG
from tests.conftest import sign_in, totp_now

pytestmark = pytest.mark.django_db

ALL_ROLES = {
    "physician",
    "nurse",
    "registration_clerk",
    "billing_clerk",
    "lab_technician",
    "pharmacist",
    "hr_officer",
    "it_admin",
    "security_officer",
    "privacy_officer",
    "auditor",
    "compliance_officer",
    "biomedical_engineer",
    "security_desk",
    "vendor",
}
# Managing accounts: creating and locking them, granting roles, ending
# sessions, defining networks. (Approving a privileged grant is oversight by a
# security or privacy officer; the privacy officer also reviews break-glass use.)
ACCOUNT_ADMINISTRATION = {
    Perm.IDENTITY_USER_MANAGE,
    Perm.IDENTITY_ROLE_REQUEST,
    Perm.IDENTITY_SESSION_REVOKE,
    Perm.IDENTITY_ZONE_MANAGE,
}


class TestCatalog:
    def test_the_fifteen_roles_are_seeded_as_catalogued(self):
        assert {spec.code for spec in CATALOG} == ALL_ROLES
        for role in Role.objects.all():
            spec = BY_CODE[role.code]
            assert set(role.permissions) == {str(p) for p in spec.permissions}
            assert role.privileged == spec.privileged

    def test_nobody_who_manages_accounts_has_any_clinical_permission(self):
        for spec in CATALOG:
            if spec.permissions & ACCOUNT_ADMINISTRATION:
                clinical = sorted(p for p in spec.permissions if p.scope == "clinical")
                assert clinical == [], f"{spec.code} manages accounts and holds {clinical}"
        assert not [p for p in BY_CODE["it_admin"].permissions if p.value.startswith("clinical:")]
        # Approvers never read or write the chart either.
        for spec in CATALOG:
            if Perm.IDENTITY_ROLE_APPROVE in spec.permissions:
                assert {p for p in spec.permissions if p.scope == "clinical"} <= {
                    Perm.CLINICAL_BREAKGLASS_REVIEW
                }

    def test_requesting_and_approving_roles_are_never_in_one_role(self):
        for spec in CATALOG:
            assert not {Perm.IDENTITY_ROLE_REQUEST, Perm.IDENTITY_ROLE_APPROVE} <= spec.permissions

    def test_administrator_roles_are_privileged(self):
        for code in ("it_admin", "security_officer", "privacy_officer", "auditor"):
            assert BY_CODE[code].privileged
        assert not BY_CODE["physician"].privileged

    def test_permission_names_are_scope_resource_action_and_sorted(self):
        names = [p.value for p in Perm]
        assert names == sorted(names)
        assert all(re.fullmatch(r"[a-z]+:[a-z]+:[a-z]+", name) for name in names)

    def test_it_admin_cannot_read_clinical_data_even_with_every_identity_role(self, make_user):
        admin = make_user("it_admin")
        assert not any(admin.has_perm(p) for p in Perm if p.scope == "clinical")
        assert not admin.has_perm("identity.view_user")  # Django's model permissions mean nothing


class TestSeparationOfDuties:
    def test_nobody_grants_themselves_a_role(self, make_user):
        admin = make_user("it_admin")
        with pytest.raises(SeparationOfDuties):
            services.role_request(actor=admin, user=admin, role=Role.objects.get(code="physician"))
        assert RoleAssignment.objects.filter(user=admin).count() == 1

    def test_nobody_grants_themselves_a_role_through_the_page(self, client, make_user):
        admin = make_user("it_admin")
        sign_in(client, admin)
        role = Role.objects.get(code="security_officer")
        response = client.post(f"/identity/users/{admin.pk}/roles/", {"role": role.pk, "reason": "me"})
        assert response.status_code == 302
        assert not RoleAssignment.objects.filter(user=admin, role=role).exists()
        messages = [str(m) for m in response.wsgi_request._messages]
        assert "Nobody can grant a role to themselves." in messages

    def test_privileged_grant_waits_for_a_second_authorised_person(self, make_user):
        requester = make_user("it_admin")
        grantee = make_user("nurse")
        approver = make_user("security_officer")
        auditor = make_user("auditor")
        role = Role.objects.get(code="auditor")
        assignment = services.role_request(actor=requester, user=grantee, role=role, reason="annual audit")
        assert assignment.status == RoleAssignment.Status.PENDING
        assert not grantee.has_perm(Perm.AUDIT_EVENT_READ)

        with pytest.raises(services.NotPermitted):
            services.role_approve(actor=auditor, assignment=assignment)  # lacks identity:role:approve
        with pytest.raises(services.NotPermitted):
            services.role_approve(actor=requester, assignment=assignment)  # requester has no approve
        assignment.refresh_from_db()
        assert assignment.status == RoleAssignment.Status.PENDING

        services.role_approve(actor=approver, assignment=assignment)
        assignment.refresh_from_db()
        assert assignment.status == RoleAssignment.Status.ACTIVE
        assert assignment.decided_by == approver
        assert User.objects.get(pk=grantee.pk).has_perm(Perm.AUDIT_EVENT_READ)
        actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
        assert actions[-2:] == ["role_request", "role_approve"]

    def test_requester_or_grantee_can_never_approve_even_holding_approval_rights(self, make_user):
        # Someone who holds both rights (two roles) still cannot approve their own request.
        dual = make_user("it_admin", "security_officer")
        grantee = make_user("privacy_officer")
        assignment = services.role_request(
            actor=dual, user=grantee, role=Role.objects.get(code="auditor"), reason="x"
        )
        with pytest.raises(SeparationOfDuties):
            services.role_approve(actor=dual, assignment=assignment)
        with pytest.raises(SeparationOfDuties):
            services.role_approve(actor=grantee, assignment=assignment)
        assignment.refresh_from_db()
        assert assignment.status == RoleAssignment.Status.PENDING

    def test_approval_through_the_pages(self, make_user):
        requester, grantee, approver = make_user("it_admin"), make_user("nurse"), make_user("privacy_officer")
        admin_client, approver_client = Client(), Client()
        sign_in(admin_client, requester)
        sign_in(approver_client, approver)
        role = Role.objects.get(code="security_officer")
        admin_client.post(f"/identity/users/{grantee.pk}/roles/", {"role": role.pk, "reason": "cover"})
        assignment = RoleAssignment.objects.get(user=grantee, role=role)
        assert assignment.status == "pending"
        page = approver_client.get("/identity/approvals/")
        assert grantee.username.encode() in page.content
        # The requester cannot even reach the approval action.
        assert admin_client.post(f"/identity/approvals/{assignment.pk}/approve/").status_code == 403
        response = approver_client.post(f"/identity/approvals/{assignment.pk}/approve/")
        assert response.status_code == 302
        assignment.refresh_from_db()
        assert assignment.status == "active"
        # Decided requests are gone: a second decision is a 404.
        assert approver_client.post(f"/identity/approvals/{assignment.pk}/reject/").status_code == 404

    def test_ordinary_roles_take_effect_at_once(self, make_user):
        admin, grantee = make_user("it_admin"), make_user()
        assignment = services.role_request(actor=admin, user=grantee, role=Role.objects.get(code="nurse"))
        assert assignment.status == "active"
        assert grantee.has_perm(Perm.CLINICAL_CHART_READ)


class TestStepUp:
    @pytest.fixture
    def stale_admin(self, client, make_user, frozen_clock, settings):
        admin = make_user("it_admin")
        user_session = sign_in(client, admin)
        frozen_clock.advance(minutes=settings.SAFEWARD_STEP_UP_MINUTES, seconds=1)
        return client, admin, user_session

    @pytest.mark.parametrize(
        "path",
        [
            "/identity/users/{target}/roles/",
            "/identity/users/{target}/roles/{assignment}/revoke/",
            "/identity/users/{target}/sessions/end/",
            "/identity/users/{target}/lock/",
        ],
    )
    def test_sensitive_actions_redirect_to_mfa_reauthentication(self, stale_admin, make_user, path):
        client, _, _ = stale_admin
        target = make_user("nurse")
        assignment = target.role_assignments.get()
        url = path.format(target=target.pk, assignment=assignment.pk)
        before = AuditEvent.objects.count()
        page = f"/identity/users/{target.pk}/"
        response = client.post(
            url,
            {"role": Role.objects.get(code="pharmacist").pk, "reason": "r"},
            HTTP_REFERER=f"http://testserver{page}",
        )
        assert response.status_code == 302
        # Back to the page the form was on: the POST-only address would answer 405.
        assert response["Location"] == f"/accounts/2fa/reauthenticate/?next={page.replace('/', '%2F')}"
        assert AuditEvent.objects.count() == before
        target.refresh_from_db()
        assert target.locked_at is None
        assert target.role_assignments.count() == 1

    def test_approval_needs_step_up(self, client, make_user, frozen_clock, settings):
        approver = make_user("security_officer")
        sign_in(client, approver)
        frozen_clock.advance(minutes=settings.SAFEWARD_STEP_UP_MINUTES + 1)
        response = client.post("/identity/approvals/1/approve/")
        assert response["Location"].startswith("/accounts/2fa/reauthenticate/")

    def test_reauthentication_refreshes_the_session_and_lets_the_action_through(
        self, stale_admin, make_user, frozen_clock
    ):
        client, admin, user_session = stale_admin
        target = make_user("nurse")
        page = client.get("/accounts/2fa/reauthenticate/?next=/identity/users/")
        assert page.status_code == 200
        response = client.post(
            "/accounts/2fa/reauthenticate/",
            {"code": totp_now(admin.test_totp_secret), "next": f"/identity/users/{target.pk}/"},
        )
        assert response.status_code == 302
        user_session.refresh_from_db()
        assert user_session.mfa_at == frozen_clock.now()
        assert AuditEvent.objects.filter(action="step_up", actor_id=admin.pk, outcome="success").exists()

        response = client.post(f"/identity/users/{target.pk}/lock/", {"reason": "stolen badge"})
        assert response.status_code == 302
        assert response["Location"] == f"/identity/users/{target.pk}/"
        target.refresh_from_db()
        assert target.locked_at is not None

    def test_a_wrong_code_does_not_step_up(self, stale_admin):
        client, _, user_session = stale_admin
        before = user_session.mfa_at
        response = client.post("/accounts/2fa/reauthenticate/", {"code": "123456"})
        assert response.status_code == 200
        user_session.refresh_from_db()
        assert user_session.mfa_at == before
        assert AuditEvent.objects.filter(action="step_up", outcome="denied").count() == 1

    def test_password_reauthentication_is_not_step_up(self, stale_admin, make_user):
        from tests.factories import TEST_PASSWORD

        client, _, user_session = stale_admin
        before = user_session.mfa_at
        client.post("/accounts/reauthenticate/", {"password": TEST_PASSWORD})
        user_session.refresh_from_db()
        assert user_session.mfa_at == before
        target = make_user("nurse")
        response = client.post(f"/identity/users/{target.pk}/lock/", {"reason": "x"})
        assert response["Location"].startswith("/accounts/2fa/reauthenticate/")


def test_session_mfa_time_recorded_at_login(client, make_user):
    from tests.factories import TEST_PASSWORD

    user = make_user("nurse")
    client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
    assert UserSession.objects.get(user=user).mfa_at is not None

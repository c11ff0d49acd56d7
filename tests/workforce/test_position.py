"""Gate: a role change by position change leaves no old role behind;
privileged roles still need the second approver; audited before/after."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.identity import services as identity_services
from safeward.identity.errors import NotPermitted
from safeward.identity.models import Role, RoleAssignment
from safeward.workforce import services


def _open_roles(user):
    return sorted(
        RoleAssignment.objects.filter(user=user, status__in=["active", "pending"]).values_list(
            "role__code", "status"
        )
    )


def test_position_change_revokes_every_old_role_and_grants_the_new(make_user, make_person, catalog, hr):
    user = make_user("nurse", "billing_clerk")  # billing_clerk: granted by hand, not by any position
    person = make_person(user=user, position=catalog["positions"]["staff-nurse"])
    services.person_position_change(actor=hr, person=person, position=catalog["positions"]["physician"])
    assert _open_roles(user) == [("physician", "active")]
    event = AuditEvent.objects.filter(resource_type="WorkforcePerson", detail__event="position_change").get()
    assert event.actor_id == hr.pk
    assert event.detail["position_before"] == "staff-nurse"
    assert event.detail["position_after"] == "physician"
    assert event.detail["roles_before"] == ["billing_clerk", "nurse"]
    assert event.detail["roles_after"] == ["physician"]
    assert event.detail["roles_revoked"] == ["billing_clerk", "nurse"]


def test_roles_shared_by_both_positions_stay(make_user, make_person, catalog, hr):
    both = services.position_save(
        actor=hr, code="charge-nurse", title="Charge nurse", default_roles=["nurse", "registration_clerk"]
    )
    user = make_user("nurse")
    person = make_person(user=user, position=catalog["positions"]["staff-nurse"])
    kept = RoleAssignment.objects.get(user=user, role__code="nurse")
    services.person_position_change(actor=hr, person=person, position=both)
    kept.refresh_from_db()
    assert kept.status == "active"
    assert _open_roles(user) == [("nurse", "active"), ("registration_clerk", "active")]


def test_a_privileged_role_waits_for_a_second_approver(make_user, make_person, catalog, hr):
    user = make_user("registration_clerk")
    person = make_person(user=user, position=catalog["positions"]["clerk"])
    services.person_position_change(actor=hr, person=person, position=catalog["positions"]["it-admin"])
    assert _open_roles(user) == [("it_admin", "pending")]
    pending = RoleAssignment.objects.get(user=user, role__code="it_admin")
    with pytest.raises(NotPermitted):
        identity_services.role_approve(actor=hr, assignment=pending)  # HR cannot approve
    approver = make_user("security_officer")
    identity_services.role_approve(actor=approver, assignment=pending)
    assert _open_roles(user) == [("it_admin", "active")]


def test_unknown_roles_are_refused_in_a_position(hr, db):
    from safeward.identity.errors import InvalidState

    with pytest.raises(InvalidState):
        services.position_save(actor=hr, code="x", title="X", default_roles=["no-such-role"])


def test_position_change_through_the_page(make_user, make_person, catalog, hr, client):
    from tests.conftest import sign_in

    user = make_user("nurse")
    person = make_person(user=user, position=catalog["positions"]["staff-nurse"])
    sign_in(client, hr)
    response = client.post(
        f"/workforce/people/{person.pk}/position/", {"position": catalog["positions"]["clerk"].pk}
    )
    assert response.status_code == 302
    assert _open_roles(user) == [("registration_clerk", "active")]
    assert Role.objects.get(code="hr_officer").permissions.count("identity:role:request") == 1

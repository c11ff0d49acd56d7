"""The effective permissions are read once per request (one query for role
codes and permissions together, cached on the request's user object) and
are never stale across requests, nor within a request once an input
changes: a revoked role or a termination takes effect on the next request,
and the workforce filter (termination, overdue training) applies to the
cached set."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.identity import services as identity_services
from safeward.identity.models import RoleAssignment, User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_permissions, user_permissions_forget, user_role_codes
from safeward.workforce.models import Person, TrainingAssignment
from safeward.workforce.policy import forget_state
from tests.clinical.conftest import new_patient, relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
CHART = "/api/v1/clinical/patients/{}/chart/"


@pytest.fixture(autouse=True)
def _clinical_zone(db):
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table

    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8"], clinical=True)
    zone_table.clear()


def _fresh(user: User) -> User:
    """The user as the authentication middleware loads it for a new request."""
    return User.objects.get(pk=user.pk)


def test_roles_and_permissions_cost_one_query_per_request(make_user, django_assert_num_queries):
    user = _fresh(make_user("physician", "registration_clerk"))
    # One query for the roles (codes and permissions), one for the workforce
    # state, one for the policy acknowledgement gate (issue 18, ADR 0930).
    with django_assert_num_queries(3):
        assert user.has_perm(Perm.CLINICAL_CHART_READ)
        assert user_role_codes(user=user) == ["physician", "registration_clerk"]
        assert Perm.CLINICAL_PATIENT_REGISTER in user_permissions(user=user)
        assert user.has_perm(Perm.CLINICAL_PATIENT_REGISTER)
    with django_assert_num_queries(0):
        assert user.has_perm(Perm.CLINICAL_NOTE_WRITE)
        user_role_codes(user=user)


def test_forgetting_the_cache_reads_the_roles_again(make_user, django_assert_num_queries):
    user = _fresh(make_user("nurse"))
    assert user.has_perm(Perm.CLINICAL_CHART_READ)
    RoleAssignment.objects.filter(user=user).update(status=RoleAssignment.Status.REVOKED)
    assert user.has_perm(Perm.CLINICAL_CHART_READ)  # the request's snapshot
    user_permissions_forget(user=user)
    assert not user.has_perm(Perm.CLINICAL_CHART_READ)
    assert user_role_codes(user=user) == []


def test_a_role_revoked_mid_session_takes_effect_on_the_next_request(make_user, client):
    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)
    assert client.get(CHART.format(patient)).status_code == 200
    assignment = RoleAssignment.objects.get(user=doctor, role__code="physician")
    identity_services.role_revoke(actor=None, assignment=assignment, reason="test")
    assert client.get(CHART.format(patient)).status_code in (403, 404)


def test_a_role_granted_mid_session_takes_effect_on_the_next_request(make_user, client):
    from safeward.identity.models import Role

    admin, nurse = make_user("it_admin"), make_user()
    patient = new_patient()
    relate(nurse, patient, "care_team")
    sign_in(client, nurse)
    assert client.get(CHART.format(patient)).status_code == 403
    identity_services.role_request(actor=admin, user=nurse, role=Role.objects.get(code="nurse"))
    assert client.get(CHART.format(patient)).status_code == 200


def test_a_terminated_persons_permissions_are_filtered(make_user, make_person):
    user = make_user("physician")
    make_person(user=user, status=Person.Status.TERMINATED)
    fresh = _fresh(user)
    assert user_permissions(user=fresh) == frozenset()
    assert not fresh.has_perm(Perm.CLINICAL_PATIENT_READ)
    # The roles themselves are still recorded (the audit names them).
    assert user_role_codes(user=fresh) == ["physician"]


def test_a_termination_within_the_request_drops_the_cached_permissions(make_user, make_person):
    user = make_user("physician")
    person = make_person(user=user)
    fresh = _fresh(user)
    assert fresh.has_perm(Perm.CLINICAL_PATIENT_READ)
    Person.objects.filter(pk=person.pk).update(status=Person.Status.TERMINATED)
    forget_state(fresh)  # what the workforce services call after a change
    assert not fresh.has_perm(Perm.CLINICAL_PATIENT_READ)
    assert user_permissions(user=fresh) == frozenset()


def test_overdue_training_within_the_request_narrows_the_cached_permissions(
    make_user, make_person, catalog, frozen_clock
):
    user = make_user("physician")
    person = make_person(user=user)
    fresh = _fresh(user)
    assert fresh.has_perm(Perm.CLINICAL_NOTE_WRITE)
    TrainingAssignment.objects.create(
        person=person,
        course=catalog["courses"]["security"],
        assigned_at=frozen_clock.now() - dt.timedelta(days=45),
        due_at=frozen_clock.now() - dt.timedelta(days=15),
    )
    forget_state(fresh)
    assert not fresh.has_perm(Perm.CLINICAL_NOTE_WRITE)
    assert fresh.has_perm(Perm.CLINICAL_CHART_READ)


def test_a_terminated_person_is_refused_on_the_next_request(make_user, make_person, client):
    doctor = make_user("physician")
    person = make_person(user=doctor)
    patient = new_patient()
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)
    assert client.get(CHART.format(patient)).status_code == 200
    Person.objects.filter(pk=person.pk).update(status=Person.Status.TERMINATED)
    assert client.get(CHART.format(patient)).status_code in (401, 403)

"""The acknowledgement gate: within the grace period a banner and an
interstitial; after it the role's permissions are removed until the person
acknowledges, which restores them at once. One query per request."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_permissions
from safeward.policies import gate, services
from safeward.workforce import services as workforce_services
from safeward.workforce.models import Person
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.policies.conftest import AUP_TEXT, new_document, publish

pytestmark = pytest.mark.django_db


def _fresh(user):
    gate.forget_state(user)
    return user


def _nurse(frozen_clock, **kwargs):
    nurse = UserFactory(roles=["nurse", "hr_officer"], totp_secret=True, **kwargs)
    nurse.date_joined = frozen_clock.now() - dt.timedelta(days=400)
    nurse.save(update_fields=["date_joined"])
    return nurse


def test_within_the_grace_period_nothing_is_removed(frozen_clock, officer, approver):
    nurse = _nurse(frozen_clock)
    publish(officer, approver, new_document(officer))
    state = gate.gate_state(_fresh(nurse))
    assert [p.code for p in state.pending] == ["acceptable-use"]
    assert state.locked_roles == frozenset()
    assert Perm.CLINICAL_CHART_WRITE in user_permissions(user=_fresh(nurse))


def test_after_the_grace_period_the_roles_permissions_go_and_acknowledging_restores_them(
    frozen_clock, officer, approver, settings
):
    settings.SAFEWARD_POLICY_ACKNOWLEDGE_GRACE_DAYS = 14
    nurse = _nurse(frozen_clock)
    document = new_document(officer)
    publish(officer, approver, document)
    frozen_clock.advance(days=15)
    permissions = user_permissions(user=_fresh(nurse))
    assert Perm.CLINICAL_CHART_READ not in permissions  # the nurse role is locked
    assert Perm.WORKFORCE_PERSON_READ in permissions  # the HR officer role is not required to acknowledge
    assert not nurse.has_perm(Perm.CLINICAL_PATIENT_READ)
    document.refresh_from_db()
    services.acknowledgement_record(actor=nurse, revision_id=document.current_revision_id)
    assert Perm.CLINICAL_CHART_READ in user_permissions(user=nurse)  # the same request: restored at once
    assert nurse.has_perm(Perm.CLINICAL_PATIENT_READ)


def test_a_new_revision_asks_again_and_the_grace_counts_from_its_publication(frozen_clock, officer, approver):
    nurse = _nurse(frozen_clock)
    document = new_document(officer)
    first = publish(officer, approver, document)
    services.acknowledgement_record(actor=nurse, revision_id=first.pk)
    assert not gate.gate_state(_fresh(nurse)).any
    frozen_clock.advance(days=30)
    publish(officer, approver, document, body=AUP_TEXT + "\nNo personal e-mail on ward PCs.")
    state = gate.gate_state(_fresh(nurse))
    assert [p.revision_number for p in state.pending] == [2]
    assert not state.locked_roles


def test_someone_who_joined_after_publication_gets_the_grace_from_joining(frozen_clock, officer, approver):
    publish(officer, approver, new_document(officer))
    frozen_clock.advance(days=100)
    newcomer = UserFactory(roles=["nurse"])
    newcomer.date_joined = frozen_clock.now()
    newcomer.save(update_fields=["date_joined"])
    state = gate.gate_state(_fresh(newcomer))
    assert state.any
    assert not state.locked_roles


def test_a_requirement_by_position_locks_the_positions_roles(frozen_clock, officer, approver):
    position = workforce_services.position_save(
        actor=None, code="staff-nurse", title="Staff nurse", default_roles=["nurse"]
    )
    nurse = _nurse(frozen_clock)
    Person.objects.create(
        employee_number="E-1",
        first_name="Ada",
        last_name="Quist",
        user=nurse,
        position=position,
        status=Person.Status.ACTIVE,
        start_date=dt.date(2020, 1, 1),
    )
    publish(
        officer, approver, new_document(officer, code="hand-hygiene", roles=(), positions=("staff-nurse",))
    )
    frozen_clock.advance(days=30)
    state = gate.gate_state(_fresh(nurse))
    assert state.locked_roles == {"nurse"}
    assert [p.via_position for p in state.pending] == ["staff-nurse"]
    assert Perm.WORKFORCE_PERSON_READ in user_permissions(user=_fresh(nurse))


def test_retired_documents_and_other_roles_ask_nothing(frozen_clock, officer, approver):
    clerk = UserFactory(roles=["registration_clerk"])
    document = new_document(officer)
    publish(officer, approver, document)
    assert not gate.gate_state(_fresh(clerk)).any
    assert not gate.gate_state(_fresh(UserFactory())).any  # no role at all: the statement has no role list
    nurse = _nurse(frozen_clock)
    services.document_retire(actor=officer, document_id=document.pk)
    assert not gate.gate_state(_fresh(nurse)).any


def test_the_gate_costs_one_query_and_is_cached_for_the_request(frozen_clock, officer, approver):
    nurse = _nurse(frozen_clock)
    for code in ("acceptable-use", "privacy", "incident-response"):
        publish(officer, approver, new_document(officer, code=code))
    _fresh(nurse)
    user_permissions(user=nurse)  # roles loaded (the request does this anyway)
    gate.forget_state(nurse)
    nurse._safeward_role_codes = ["nurse", "hr_officer"]
    with CaptureQueriesContext(connection) as queries:
        state = gate.gate_state(nurse)
        gate.gate_state(nurse)
    assert len(state.pending) == 3
    assert len(queries) == 1


def test_the_interstitial_asks_first_then_lets_the_nurse_continue_or_acknowledge(
    client, frozen_clock, officer, approver
):
    nurse = _nurse(frozen_clock)
    document = new_document(officer)
    publish(officer, approver, document)
    sign_in(client, nurse)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/policies/acknowledge/?next=")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Acceptable use policy" in page.content
    assert b"Before you continue" in page.content
    later = client.post("/policies/acknowledge/later/", {"next": "/"})
    assert later["Location"] == "/"
    follow = client.get("/")
    assert follow.status_code == 200
    assert b"policy-banner" in follow.content
    document.refresh_from_db()
    revision_id = document.current_revision_id
    refused = client.post(f"/policies/acknowledge/{revision_id}/", {})
    assert refused.status_code == 400
    assert gate.gate_state(_fresh(nurse)).any
    done = client.post(f"/policies/acknowledge/{revision_id}/", {"understood": "yes", "next": "/"})
    assert done.status_code == 302
    assert done["Location"] == "/"
    assert b"policy-banner" not in client.get("/").content


def test_past_the_grace_the_interstitial_says_access_is_suspended(client, frozen_clock, officer, approver):
    nurse = _nurse(frozen_clock)
    publish(officer, approver, new_document(officer))
    frozen_clock.advance(days=20)
    sign_in(client, nurse)
    response = client.get("/")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert b"suspended" in page.content
    assert b'id="locked"' in page.content
    client.post("/policies/acknowledge/later/")
    home = client.get("/")  # the HR officer role's work goes on, without the nurse's permissions
    assert home.status_code == 200
    assert b"<strong>suspended</strong>" in home.content
    assert "clinical:chart:read" not in client.get("/api/v1/me/").json()["permissions"]
    assert client.get("/workforce/").status_code == 200

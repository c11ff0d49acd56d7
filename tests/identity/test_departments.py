"""`department_ensure`: a department created is audited in its transaction;
one found is not; a user without the permission creates nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from safeward.audit.models import AuditEvent
from safeward.identity.errors import NotPermitted
from safeward.identity.selectors import department_ids_by_code
from safeward.identity.services import department_ensure

pytestmark = pytest.mark.django_db


def _events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="create", resource_type="Department"))


def test_a_creation_is_recorded_with_its_actor_and_finding_it_again_records_nothing(make_user):
    admin = make_user("it_admin")
    created = department_ensure(actor=admin, code="cardiology", name="Cardiology")
    [event] = _events()
    assert (event.actor_id, event.resource_id) == (admin.pk, str(created))
    assert event.detail == {"department": "cardiology", "name": "Cardiology"}

    assert department_ensure(actor=admin, code="cardiology", name="Another name") == created
    assert len(_events()) == 1
    assert department_ids_by_code(codes=["cardiology", "nowhere"]) == {"cardiology": created}


def test_a_system_actor_is_named_and_a_rolled_back_caller_takes_the_department_with_it():
    def caller_that_fails_after_ensuring() -> None:
        with transaction.atomic():
            department_ensure(actor=None, actor_username="system:tests", code="external", name="External")
            raise RuntimeError("the caller's write fails")

    with pytest.raises(RuntimeError):
        caller_that_fails_after_ensuring()
    assert not department_ids_by_code(codes=["external"])
    assert not _events()

    department_ensure(actor=None, actor_username="system:tests", code="external", name="External")
    [event] = _events()
    assert (event.actor_id, event.actor_username) == (None, "system:tests")


def test_a_user_without_the_permission_creates_nothing(make_user):
    with pytest.raises(NotPermitted):
        department_ensure(actor=make_user("physician"), code="cardiology", name="Cardiology")
    assert not department_ids_by_code(codes=["cardiology"])
    assert not _events()

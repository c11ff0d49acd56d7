"""Authorisations follow the workforce record: a termination or a position change
removes a person's own authorisations in the same transaction that ends their
system access, and the leaver's badges go on workforce's recovery list."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.facilities import services
from safeward.facilities.models import Authorisation, Badge
from safeward.workforce import extensions
from safeward.workforce import services as workforce_services
from safeward.workforce.models import RecoveryItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def granted(clerk, areas):
    services.authorisation_grant(
        actor=None, area=areas["pharmacy"], person_id=clerk.pk, start_time=dt.time(8), end_time=dt.time(9)
    )
    return clerk


def test_the_hook_is_registered_from_the_app_config():
    assert "facilities" in extensions.person_change_hooks()
    assert "facilities" in extensions.recovery_sources()


def test_termination_ends_authorisations_and_lists_the_badge_for_recovery(granted, hr):
    termination = workforce_services.termination_schedule(
        actor=hr, person=granted, effective_at=workforce_services.clock.now(), reason="dismissal"
    )
    assert termination.status == "applied"
    assert not Authorisation.objects.filter(person_id=granted.pk).exists()
    assert Badge.objects.get(credential_id="B-100").status == Badge.Status.TO_RECOVER
    item = RecoveryItem.objects.get(source="facilities")
    assert (item.kind, item.identifier) == ("badge", "B-100")
    from safeward.audit.models import AuditEvent

    applied = AuditEvent.objects.get(detail__event="termination_apply")
    assert applied.detail["person_hooks"] == ["facilities:2"]


def test_a_failing_hook_rolls_the_termination_back(granted, hr, monkeypatch):
    def broken(*, person, event, reason):
        raise RuntimeError("facilities is down")

    monkeypatch.setitem(extensions._person_hooks, "facilities", broken)
    with pytest.raises(RuntimeError):
        workforce_services.termination_schedule(
            actor=hr, person=granted, effective_at=workforce_services.clock.now(), reason="dismissal"
        )
    granted.refresh_from_db()
    assert granted.status == "active"
    assert granted.user.is_active
    assert Authorisation.objects.filter(person_id=granted.pk).exists()


def test_position_change_ends_personal_authorisations_and_keeps_the_badge(granted, hr, catalog):
    workforce_services.person_position_change(
        actor=hr, person=granted, position=catalog["positions"]["physician"]
    )
    assert not Authorisation.objects.filter(person_id=granted.pk).exists()
    assert Badge.objects.get(credential_id="B-100").status == Badge.Status.ACTIVE
    # The position authorisation (clerk) no longer covers them: the records room is now unauthorised.
    from safeward.detection.models import Alert
    from tests.facilities.conftest import ingest, row

    ingest(row("B-100", "RR-1", "2026-11-02T10:00:00-05:00"))
    assert list(Alert.objects.values_list("rule", flat=True)) == ["badge_unauthorised_entry"]


def test_other_people_keep_their_authorisations(granted, admin_person, hr):
    workforce_services.termination_schedule(
        actor=hr, person=granted, effective_at=workforce_services.clock.now(), reason="dismissal"
    )
    assert Authorisation.objects.filter(person_id=admin_person.pk).count() == 1
    assert Badge.objects.get(credential_id="B-200").status == Badge.Status.ACTIVE

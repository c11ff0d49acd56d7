"""A person-page form that fails validation comes back with what was typed
and its errors beside the fields (400); nothing is saved."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.workforce.models import IssuedItem, Person, Termination

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(signed_in, make_person, catalog):
    person = make_person(last_name="Kept")  # no account yet: every form of the page shows
    client, _ = signed_in("hr_officer")
    return client, person


@pytest.mark.parametrize(
    ("action", "data", "kept"),
    [
        ("terminate", {"when": "date", "reason": "moving to another city"}, "moving to another city"),
        ("terminate", {"when": "later", "reason": "typo in when"}, "typo in when"),
        ("items", {"kind": "spaceship", "identifier": "B-4711"}, "B-4711"),
        ("account", {"username": "has spaces", "email": "nurse@example.test"}, "nurse@example.test"),
        ("position", {"position": "999999", "reason": "promotion"}, "promotion"),
        ("training", {"course": "", "completed_on": "2026-01-05"}, "2026-01-05"),
    ],
)
def test_a_failed_form_keeps_what_was_typed(page, action, data, kept):
    client, person = page
    events = AuditEvent.objects.filter(resource_type="WorkforcePerson").count()
    response = client.post(f"/workforce/people/{person.pk}/{action}/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert kept in html
    assert 'aria-invalid="true"' in html
    assert AuditEvent.objects.filter(resource_type="WorkforcePerson").count() == events
    assert not Termination.objects.exists()
    assert not IssuedItem.objects.exists()
    assert Person.objects.get(pk=person.pk).user is None

"""HR defines positions, courses and agreement versions on a page: audited
through the services, refused without the permission, bad input answered
with the form (what was typed kept) and nothing saved."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.workforce.models import AgreementDocument, Position, TrainingCourse

pytestmark = pytest.mark.django_db

SETUP = "/workforce/setup/"


def test_hr_defines_a_position_and_edits_it(signed_in):
    client, hr = signed_in("hr_officer")
    response = client.post(
        f"{SETUP}positions/", {"code": "ward-nurse", "title": "Ward nurse", "default_roles": ["nurse"]}
    )
    assert response.status_code == 302
    position = Position.objects.get(code="ward-nurse")
    assert position.default_roles == ["nurse"]
    event = AuditEvent.objects.get(resource_type="WorkforcePosition", resource_id=str(position.pk))
    assert (event.action, event.actor_id) == ("create", hr.pk)
    page = client.get(f"{SETUP}?position=ward-nurse").content.decode()
    assert 'value="Ward nurse"' in page
    client.post(
        f"{SETUP}positions/",
        {"code": "ward-nurse", "title": "Ward nurse", "default_roles": ["nurse", "registration_clerk"]},
    )
    position.refresh_from_db()
    assert position.default_roles == ["nurse", "registration_clerk"]
    assert Position.objects.count() == 1


def test_hr_defines_a_course(signed_in):
    client, hr = signed_in("hr_officer")
    response = client.post(
        f"{SETUP}courses/",
        {
            "code": "fire-safety",
            "title": "Fire safety",
            "description": "Evacuation routes.",
            "required_for_onboarding": "on",
            "days_to_complete": "14",
            "refresher_months": "24",
        },
    )
    assert response.status_code == 302
    course = TrainingCourse.objects.get(code="fire-safety")
    assert (course.required_for_onboarding, course.days_to_complete, course.refresher_months) == (
        True,
        14,
        24,
    )
    assert AuditEvent.objects.filter(resource_type="WorkforceCourse", actor_id=hr.pk).count() == 1


def test_hr_publishes_an_agreement_version(signed_in):
    client, hr = signed_in("hr_officer")
    body = "I keep patient information confidential."
    response = client.post(
        f"{SETUP}agreements/", {"version": "2027.1", "title": "Confidentiality", "body": body}
    )
    assert response.status_code == 302
    document = AgreementDocument.objects.get(version="2027.1")
    assert document.body == body
    assert AuditEvent.objects.get(resource_type="WorkforceAgreement").actor_id == hr.pk
    again = client.post(
        f"{SETUP}agreements/", {"version": "2027.1", "title": "Changed", "body": "other text"}
    )
    assert again.status_code == 400
    assert "exists already" in again.content.decode()
    assert 'value="Changed"' in again.content.decode()  # what was typed stays
    assert AgreementDocument.objects.get(version="2027.1").body == body


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("positions/", {"code": "bad code!", "title": "X"}, "code"),
        ("positions/", {"code": "ok", "title": ""}, "title"),
        ("positions/", {"code": "ok", "title": "X", "default_roles": ["emperor"]}, "default_roles"),
        ("courses/", {"code": "c", "title": "C", "days_to_complete": "0", "refresher_months": "12"}, "days"),
        (
            "courses/",
            {"code": "c", "title": "C", "days_to_complete": "9", "refresher_months": "-1"},
            "refresher",
        ),
        ("courses/", {"code": "c", "title": "C", "days_to_complete": "x", "refresher_months": "1"}, "days"),
        ("agreements/", {"version": "../1", "title": "T", "body": "text"}, "version"),
        ("agreements/", {"version": "1", "title": "T", "body": ""}, "body"),
    ],
)
def test_bad_input_is_answered_with_the_form_and_saves_nothing(signed_in, path, data, field):
    client, _ = signed_in("hr_officer")
    events = AuditEvent.objects.count()
    response = client.post(f"{SETUP}{path}", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert field in page
    assert (
        Position.objects.count() == TrainingCourse.objects.count() == AgreementDocument.objects.count() == 0
    )
    assert AuditEvent.objects.count() == events
    for value in data.values():
        if isinstance(value, str) and value:
            assert value in page  # what was typed stays

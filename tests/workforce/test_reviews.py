"""Access reviews: managers attest or revoke their reports' roles; items not
decided by the deadline escalate to the manager's manager, then HR; the
auditor report shows who reviewed what and when. Time is the injected clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from safeward.identity.errors import NotPermitted, SeparationOfDuties
from safeward.identity.models import RoleAssignment
from safeward.workforce import selectors, services
from safeward.workforce.models import ReviewItem
from tests.conftest import sign_in


@pytest.fixture
def org(make_user, make_person, catalog, frozen_clock):
    director = make_person(user=make_user("physician"), last_name="Director")
    manager = make_person(user=make_user("nurse"), last_name="Manager", manager=director)
    alice = make_person(user=make_user("nurse"), last_name="Alice", manager=manager)
    bob = make_person(user=make_user("nurse", "registration_clerk"), last_name="Bob", manager=manager)
    return {"director": director, "manager": manager, "alice": alice, "bob": bob}


def test_campaign_with_escalation(org, hr, frozen_clock, client):
    campaign = services.review_campaign_create(
        actor=hr, name="Q4 2026", deadline=frozen_clock.now() + dt.timedelta(days=14)
    )
    manager_user = org["manager"].user
    queue = selectors.review_items_for(user=manager_user)
    assert sorted((i.person.last_name, i.role_code) for i in queue) == [
        ("Alice", "nurse"),
        ("Bob", "nurse"),
        ("Bob", "registration_clerk"),
    ]
    bob_clerk = queue.get(person=org["bob"], role_code="registration_clerk")
    services.review_item_decide(
        actor=manager_user, item=bob_clerk, decision="revoked", comment="moved to wards"
    )
    assert RoleAssignment.objects.get(pk=bob_clerk.role_assignment_id).status == "revoked"
    bob_nurse = queue.get(person=org["bob"], role_code="nurse")
    services.review_item_decide(actor=manager_user, item=bob_nurse, decision="attested")

    # Nothing escalates before the deadline.
    frozen_clock.advance(days=13)
    assert services.review_items_escalate_due() == 0
    # After the deadline Alice's item goes to the manager's manager ...
    frozen_clock.advance(days=2)
    call_command("workforce", "apply-due")
    alice_item = ReviewItem.objects.get(campaign=campaign, person=org["alice"])
    assert alice_item.reviewer_id == org["director"].user_id
    assert alice_item.escalation_level == 1
    assert alice_item.first_reviewer_id == manager_user.pk
    assert not selectors.review_items_for(user=manager_user).exists()
    # ... and a week later, still undecided, to HR.
    frozen_clock.advance(days=8)
    assert services.review_items_escalate_due() == 1
    alice_item.refresh_from_db()
    assert alice_item.reviewer_id is None
    assert alice_item.escalation_level == 2
    hr_queue = selectors.review_items_for(user=hr)
    assert alice_item in hr_queue
    assert hr_queue.get(person=org["director"]).escalation_level == 0  # no manager: HR from the start
    assert services.review_items_escalate_due() == 0  # HR items stay with HR
    services.review_item_decide(actor=hr, item=alice_item, decision="attested")

    # The auditor report is for auditors: a manager cannot read it.
    sign_in(client, manager_user)
    assert client.get(f"/workforce/reviews/{campaign.pk}/report/").status_code == 403


def test_auditor_report(org, hr, frozen_clock, signed_in):
    campaign = services.review_campaign_create(
        actor=hr, name="Q4 2026", deadline=frozen_clock.now() + dt.timedelta(days=1)
    )
    item = ReviewItem.objects.filter(campaign=campaign, person=org["alice"]).get()
    services.review_item_decide(actor=org["manager"].user, item=item, decision="attested", comment="on ICU")
    client, _ = signed_in("auditor")
    page = client.get(f"/workforce/reviews/{campaign.pk}/report/").content.decode()
    assert org["manager"].user.username in page
    assert "attested" in page
    assert "on ICU" in page
    assert frozen_clock.now().strftime("%Y-%m-%d %H:%M") in page


def test_only_the_reviewer_decides_and_nobody_reviews_themselves(org, hr, frozen_clock, client):
    campaign = services.review_campaign_create(
        actor=hr, name="Q", deadline=frozen_clock.now() + dt.timedelta(days=1)
    )
    item = ReviewItem.objects.get(campaign=campaign, person=org["alice"])
    with pytest.raises(NotPermitted):
        services.review_item_decide(actor=org["bob"].user, item=item, decision="attested")
    with pytest.raises(SeparationOfDuties):
        services.review_item_decide(actor=org["alice"].user, item=item, decision="attested")
    sign_in(client, org["bob"].user)
    assert (
        client.post(f"/workforce/reviews/items/{item.pk}/decide/", {"decision": "revoked"}).status_code == 404
    )
    sign_in(client, org["manager"].user)
    assert (
        client.post(f"/workforce/reviews/items/{item.pk}/decide/", {"decision": "revoked"}).status_code == 302
    )
    item.refresh_from_db()
    assert item.decision == "revoked"

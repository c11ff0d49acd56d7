"""The policy library's control tests: each fails on a seeded violation and
passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import compliance
from safeward.policies import controls, services
from safeward.policies.models import PolicyRevision
from tests.factories import UserFactory
from tests.policies.conftest import new_document, publish

pytestmark = pytest.mark.django_db

# Each test sees its control pass and fail (the violation seeded, then removed or added).
COVERED_CONTROLS = {
    "policies.review_current": "test_review_current_fails_on_an_overdue_review_and_passes_after_the_review",
    "policies.acknowledged": (
        "test_acknowledged_fails_while_someone_required_has_not_and_passes_once_all_have"
    ),
    "policies.approved_by_second_person": "test_approved_by_second_person_fails_on_a_self_approved_revision",
}


def _results(function, now):
    return {check.label: check for check in function(now)}


def test_the_controls_are_registered_with_their_catalog_entries():
    found = {cid: test for cid, test in compliance.discover().items() if cid.startswith("policies.")}
    assert set(found) == set(COVERED_CONTROLS)
    assert "hipaa:164.316(b)(2)(iii)" in found["policies.review_current"].maps
    assert "iso27001-2022:A.5.1" in found["policies.acknowledged"].maps


def test_review_current_fails_on_an_overdue_review_and_passes_after_the_review(
    frozen_clock, officer, approver
):
    document = new_document(officer, period=365)
    publish(officer, approver, document)
    now = frozen_clock.now()
    assert _results(controls.review_current, now)["acceptable-use"].passed
    frozen_clock.advance(days=366)
    later = frozen_clock.now()
    failed = _results(controls.review_current, later)["acceptable-use"]
    assert not failed.passed
    assert failed.evidence["owner"] == officer.username
    services.document_review_record(actor=officer, document_id=document.pk, note="Still right.")
    assert _results(controls.review_current, later)["acceptable-use"].passed


def test_acknowledged_fails_while_someone_required_has_not_and_passes_once_all_have(
    frozen_clock, officer, approver
):
    first, second = UserFactory(roles=["nurse"]), UserFactory(roles=["nurse"])
    UserFactory(roles=["registration_clerk"])  # not required to acknowledge
    document = new_document(officer)
    revision = publish(officer, approver, document)
    services.acknowledgement_record(actor=first, revision_id=revision.pk)
    now = frozen_clock.now()
    failed = _results(controls.acknowledged, now)["acceptable-use"]
    assert not failed.passed
    assert failed.evidence["missing"] == [second.username]
    assert failed.evidence["people"] == 2
    services.acknowledgement_record(actor=second, revision_id=revision.pk)
    assert _results(controls.acknowledged, now)["acceptable-use"].passed


def test_approved_by_second_person_fails_on_a_self_approved_revision(frozen_clock, officer, approver):
    revision = publish(officer, approver, new_document(officer))
    now = frozen_clock.now()
    assert _results(controls.approved_by_second_person, now)["acceptable-use r1"].passed
    # Seeded violation: a revision whose approver is its author (written around the services).
    PolicyRevision.objects.filter(pk=revision.pk).update(approved_by=officer)
    failed = _results(controls.approved_by_second_person, now + dt.timedelta(seconds=1))["acceptable-use r1"]
    assert not failed.passed
    assert failed.evidence["approved_by"] == officer.username

"""The vendor's risk summary reads its security assessment: the latest
signed-off questionnaire's tier and score while it is current (before its
next assessment date); an answered questionnaire waiting for review, or a
signed-off one past its date, does not count and the tier falls back to the
one computed from data and access. The list, the page, REST, the CLI and the
control `vendors.assessment_current` say the same."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client

from safeward import clock
from safeward.vendors import controls, questionnaires, selectors
from safeward.vendors.models import Questionnaire
from tests.conftest import sign_in
from tests.vendors.conftest import make_agreement, make_vendor
from tests.vendors.test_questionnaires import _answers, _pass, _send, _token

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor(officer):
    vendor = make_vendor(officer)  # medium volume of clinical notes: inherent "moderate"
    make_agreement(officer, vendor)
    return vendor


def _answered(officer, vendor, score: int) -> Questionnaire:
    token = _token(_send(officer, vendor))
    return questionnaires.questionnaire_answer(token=token, pass_token=_pass(token), data=_answers(score))


def _signed_off(officer, vendor, reviewer, score: int) -> Questionnaire:
    answered = _answered(officer, vendor, score)
    return questionnaires.questionnaire_sign_off(actor=reviewer, questionnaire_id=answered.pk)


def _summary(vendor) -> selectors.VendorSummary:
    fresh = selectors.vendor_get(vendor_id=vendor.pk)  # no prefetched questionnaires: the one-vendor path
    assert fresh is not None
    return selectors.vendor_summary(vendor=fresh)


def test_without_a_signed_off_questionnaire_the_tier_is_the_inherent_one(officer, vendor):
    summary = _summary(vendor)
    assert (summary.risk, summary.inherent_risk, summary.assessment_state) == ("moderate", "moderate", "none")
    _answered(officer, vendor, 3)  # 100 %: would be "low", but nobody has reviewed it
    summary = _summary(vendor)
    assert (summary.risk, summary.assessment, summary.assessment_state) == ("moderate", None, "none")
    assert [c.passed for c in controls.assessment_current(clock.now())] == [False]


def test_the_latest_signed_off_questionnaire_sets_the_tier_until_its_next_date(
    frozen_clock, officer, vendor, make_user
):
    reviewer = make_user("compliance_officer")
    first = _signed_off(officer, vendor, reviewer, 3)  # 100 %: one step down
    summary = _summary(vendor)
    assert (summary.risk, summary.inherent_risk, summary.assessment_state) == ("low", "moderate", "current")
    assert summary.assessment == first
    assert summary.next_assessment == first.next_assessment_on
    frozen_clock._now += dt.timedelta(days=1)
    second = _signed_off(officer, vendor, reviewer, 1)  # 33 %: one step up, reassess within 12 months
    summary = _summary(vendor)
    assert (summary.risk, summary.assessment.pk) == ("high", second.pk)
    assert (second.score, second.next_assessment_on) == (33, dt.date(2027, 11, 3))
    assert [c.passed for c in controls.assessment_current(clock.now())] == [True]
    # A newer questionnaire answered but not yet signed off changes nothing.
    _answered(officer, vendor, 3)
    assert _summary(vendor).risk == "high"
    # On its next assessment date the signed-off one expires: back to the inherent tier.
    frozen_clock._now = dt.datetime(2027, 11, 3, 9, 0, tzinfo=dt.UTC)
    summary = _summary(vendor)
    assert (summary.risk, summary.assessment_state, summary.next_assessment) == (
        "moderate",
        "overdue",
        dt.date(2027, 11, 3),
    )
    [check] = controls.assessment_current(clock.now())
    assert not check.passed
    assert check.evidence["next_assessment_on"] == "2027-11-03"


def test_the_list_page_rest_and_cli_show_the_assessment(officer, vendor, make_user, capsys):
    reviewer = make_user("compliance_officer")
    signed = _signed_off(officer, vendor, reviewer, 3)
    other = make_vendor(officer, name="Other Co")
    make_agreement(officer, other)
    rows = {row.vendor.name: row for row in selectors.vendor_summaries()}
    assert (rows["Scribe Co"].risk, rows["Other Co"].risk) == ("low", "moderate")
    client = Client()
    sign_in(client, officer)
    listing = client.get("/vendors/").content.decode()
    assert "assessed 100 %" in listing
    assert "not assessed" in listing
    page = client.get(f"/vendors/{vendor.pk}/").content.decode()
    assert "from the security questionnaire signed off" in page
    assert f"/vendors/questionnaires/{signed.pk}/" in page
    body = client.get(f"/api/v1/vendors/{vendor.pk}/").json()
    assert {k: body[k] for k in ("risk", "inherent_risk", "assessment_state", "assessment_score")} == {
        "risk": "low",
        "inherent_risk": "moderate",
        "assessment_state": "current",
        "assessment_score": 100,
    }
    (listed_other,) = [v for v in client.get("/api/v1/vendors/").json() if v["name"] == "Other Co"]
    assert (listed_other["assessment_state"], listed_other["assessment_score"]) == ("none", None)
    call_command("vendors", "list")
    assert "risk low      assessment current" in capsys.readouterr().out


def test_the_list_reads_the_assessments_in_one_query(officer, make_user, django_assert_max_num_queries):
    reviewer = make_user("compliance_officer")
    for name in ("A Co", "B Co", "C Co"):
        vendor = make_vendor(officer, name=name)
        make_agreement(officer, vendor)
        _signed_off(officer, vendor, reviewer, 2)
    with django_assert_max_num_queries(5):
        summaries = selectors.vendor_summaries()
    assert [s.assessment_state for s in summaries] == ["current"] * 3

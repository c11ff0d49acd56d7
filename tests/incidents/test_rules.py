"""The HIPAA Breach Notification Rule at its thresholds, per state and in
total, the annual log, substitute notice, GDPR, and the state table's shape."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.incidents import rules, workflow

DISCOVERED = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def codes(**kwargs) -> dict[str, rules.Deadline]:
    defaults = {"discovered": DISCOVERED, "by_state": {}, "stale_contacts": 0}
    return {deadline.code: deadline for deadline in rules.deadlines(**{**defaults, **kwargs})}


def test_499_affected_go_to_the_annual_log_within_60_days_after_the_year_end():
    found = codes(affected=499, by_state={"OH": 499})
    assert found["individuals"].due == DISCOVERED + dt.timedelta(days=60)
    assert "hhs" not in found
    assert found["hhs_log"].due.date() == dt.date(2027, 3, 1)
    assert not any(code.startswith("media") for code in found)


def test_500_affected_notify_hhs_with_the_individuals_but_no_media():
    found = codes(affected=500, by_state={"OH": 500})
    assert found["hhs"].due == found["individuals"].due == DISCOVERED + dt.timedelta(days=60)
    assert "hhs_log" not in found
    assert "media_OH" not in found  # media needs MORE than 500 residents of one state


def test_501_residents_of_one_state_notify_the_media_of_that_state_only():
    found = codes(affected=801, by_state={"OH": 501, "IN": 300})
    assert "hhs" in found
    assert found["media_OH"].due == DISCOVERED + dt.timedelta(days=60)
    assert "media_IN" not in found


def test_501_in_total_spread_over_states_notify_hhs_but_no_media():
    found = codes(affected=501, by_state={"OH": 250, "IN": 251})
    assert "hhs" in found
    assert not any(code.startswith("media") for code in found)


def test_unknown_state_never_counts_for_media():
    assert not any(code.startswith("media") for code in codes(affected=900, by_state={"unknown": 900}))


def test_substitute_notice_from_ten_stale_contacts():
    assert "substitute" in codes(affected=20, stale_contacts=10)
    found = codes(affected=20, stale_contacts=9)
    assert "substitute" not in found
    assert "substitute_alt" in found
    assert not {"substitute", "substitute_alt"} & set(codes(affected=20, stale_contacts=0))


def test_gdpr_72_hours_only_where_configured():
    assert codes(affected=1, gdpr=True)["gdpr"].due == DISCOVERED + dt.timedelta(hours=72)
    assert "gdpr" not in codes(affected=1)


def test_nobody_affected_means_no_notice():
    assert rules.deadlines(discovered=DISCOVERED, affected=0, by_state={}, stale_contacts=0) == []


def test_state_rows_cite_their_statute_and_are_marked_as_examples():
    table = rules.state_rules()
    assert "LEGAL REVIEW" in table["_note"]
    for row in table["rules"]:
        assert row["statute"]
        assert row["example"] is True
    found = codes(affected=300, by_state={"TX": 300})
    assert found["state_TX"].example
    assert found["state_TX_ag"].basis.startswith("Tex.")


def test_deadline_states():
    deadline = rules.Deadline("x", "x", DISCOVERED, "b")
    assert deadline.state(DISCOVERED - dt.timedelta(days=30)) == "pending"
    assert deadline.state(DISCOVERED - dt.timedelta(days=3)) == "near"
    assert deadline.state(DISCOVERED + dt.timedelta(seconds=1)) == "overdue"
    assert deadline.state(DISCOVERED + dt.timedelta(days=1), done=DISCOVERED) == "done"


@pytest.mark.parametrize(
    ("before", "after", "allowed", "reason"),
    [
        ("new", "triage", True, False),
        ("new", "contained", True, False),
        ("triage", "closed", True, False),
        ("recovered", "closed", True, False),
        ("contained", "triage", True, True),
        ("closed", "triage", True, True),
        ("closed", "new", False, False),
        ("recovered", "contained", False, False),
        ("eradicated", "new", False, False),
        ("closed", "recovered", False, False),
    ],
)
def test_transition_table(before, after, allowed, reason):
    assert workflow.transition_allowed(before, after) is allowed
    assert workflow.reason_required(before, after) is reason


def test_every_category_has_a_playbook():
    from safeward.incidents.models import Incident

    assert set(workflow.PLAYBOOKS) == set(Incident.Category.values)

"""The HIPAA Breach Notification Rule at its thresholds, per state and in
total, the annual log, substitute notice, GDPR, and the state table's shape."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from safeward.incidents import rules, workflow

DISCOVERED = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
# The end of the 60th UTC day after 10 March 2026 (days are calendar days, ADR 1418).
SIXTY = dt.datetime(2026, 5, 9, 23, 59, 59, 999999, tzinfo=dt.UTC)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def codes(**kwargs) -> dict[str, rules.Deadline]:
    defaults = {"discovered": DISCOVERED, "by_state": {}, "stale_contacts": 0, "zone": dt.UTC}
    return {deadline.code: deadline for deadline in rules.deadlines(**{**defaults, **kwargs})}


def test_499_affected_go_to_the_annual_log_within_60_days_after_the_year_end():
    found = codes(affected=499, by_state={"OH": 499})
    assert found["individuals"].due == SIXTY
    assert "hhs" not in found
    assert found["hhs_log"].due.date() == dt.date(2027, 3, 1)
    assert not any(code.startswith("media") for code in found)


def test_500_affected_notify_hhs_with_the_individuals_but_no_media():
    found = codes(affected=500, by_state={"OH": 500})
    assert found["hhs"].due == found["individuals"].due == SIXTY
    assert "hhs_log" not in found
    assert "media_OH" not in found  # media needs MORE than 500 residents of one state


def test_501_residents_of_one_state_notify_the_media_of_that_state_only():
    found = codes(affected=801, by_state={"OH": 501, "IN": 300})
    assert "hhs" in found
    assert found["media_OH"].due == SIXTY
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
    assert not rules.deadlines(discovered=DISCOVERED, affected=0, by_state={}, stale_contacts=0, zone=dt.UTC)


def test_state_rows_cite_their_statute_and_are_marked_as_examples():
    table = rules.state_rules()
    assert "LEGAL REVIEW" in table["_note"]
    for row in table["rules"]:
        assert row["statute"]
        assert row["example"] is True
    found = codes(affected=300, by_state={"TX": 300})
    assert found["state_TX"].example
    assert found["state_TX_ag"].basis.startswith("Tex.")


# --- the hospital's calendar (ADR 1418) -----------------------------------------------------------
def test_the_annual_log_falls_on_1_march_in_the_hospitals_zone():
    """The old UTC year end (31 December 23:59:59 UTC + 60 days) showed as
    2 March 00:59 in Berlin; the log is due at the end of 1 March, Berlin time."""
    due = codes(affected=10, zone=BERLIN)["hhs_log"].due
    assert due.astimezone(BERLIN).date() == dt.date(2027, 3, 1)
    assert due == dt.datetime(2027, 3, 1, 23, 59, 59, 999999, tzinfo=BERLIN)


def test_discovery_just_after_midnight_new_year_in_berlin_is_the_new_years_breach():
    discovered = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 January 2027 in Berlin
    berlin = codes(affected=10, discovered=discovered, zone=BERLIN)["hhs_log"].due
    assert berlin == dt.datetime(2028, 2, 29, 23, 59, 59, 999999, tzinfo=BERLIN)  # 2028 is a leap year
    assert codes(affected=10, discovered=discovered)["hhs_log"].due.date() == dt.date(2027, 3, 1)


def test_discovery_on_new_years_morning_utc_is_still_last_years_breach_in_chicago():
    discovered = dt.datetime(2027, 1, 1, 3, 0, tzinfo=dt.UTC)  # 21:00 on 31 December 2026 in Chicago
    due = codes(affected=10, discovered=discovered, zone=CHICAGO)["hhs_log"].due
    assert due == dt.datetime(2027, 3, 1, 23, 59, 59, 999999, tzinfo=CHICAGO)


def test_sixty_days_count_from_the_local_day_of_discovery_around_midnight():
    before = dt.datetime(2026, 3, 10, 22, 59, tzinfo=dt.UTC)  # 23:59 on 10 March in Berlin
    after = dt.datetime(2026, 3, 10, 23, 1, tzinfo=dt.UTC)  # 00:01 on 11 March in Berlin
    assert codes(affected=1, discovered=before, zone=BERLIN)["individuals"].due.astimezone(BERLIN).date() == (
        dt.date(2026, 5, 9)
    )
    assert codes(affected=1, discovered=after, zone=BERLIN)["individuals"].due.astimezone(BERLIN).date() == (
        dt.date(2026, 5, 10)
    )
    # In UTC both are 10 March: the same day.
    assert codes(affected=1, discovered=after)["individuals"].due == SIXTY


def test_a_deadline_across_the_spring_dst_change_ends_at_local_midnight():
    """Discovered in winter (UTC+1), due in summer (UTC+2): the end of the
    local day, one hour earlier in UTC than a winter day's."""
    due = codes(affected=600, zone=BERLIN)["hhs"].due
    assert due.astimezone(BERLIN).replace(tzinfo=None) == dt.datetime(2026, 5, 9, 23, 59, 59, 999999)
    assert due == dt.datetime(2026, 5, 9, 21, 59, 59, 999999, tzinfo=dt.UTC)


def test_a_deadline_on_the_autumn_dst_day_ends_at_its_local_midnight():
    discovered = dt.datetime(2026, 8, 26, 9, 0, tzinfo=dt.UTC)  # + 60 days = 25 October 2026, DST ends
    due = codes(affected=1, discovered=discovered, zone=BERLIN)["individuals"].due
    assert due == dt.datetime(2026, 10, 25, 22, 59, 59, 999999, tzinfo=dt.UTC)  # CET again by then


def test_state_days_count_in_the_hospitals_calendar_too():
    discovered = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)  # 11 March in Berlin
    found = codes(affected=300, by_state={"TX": 300}, discovered=discovered, zone=BERLIN)
    assert found["state_TX"].due == dt.datetime(2026, 5, 10, 23, 59, 59, 999999, tzinfo=BERLIN)
    assert found["state_TX_ag"].due == dt.datetime(2026, 4, 10, 23, 59, 59, 999999, tzinfo=BERLIN)


def test_gdpr_72_hours_are_a_duration_in_every_zone():
    assert codes(affected=1, gdpr=True, zone=BERLIN)["gdpr"].due == DISCOVERED + dt.timedelta(hours=72)


def test_the_case_deadlines_use_the_hospitals_time_zone(settings):
    from safeward.incidents.case_services import breach_deadlines
    from safeward.incidents.models import BreachAssessment

    settings.TIME_ZONE = "Europe/Berlin"
    breach = BreachAssessment(discovered_at=DISCOVERED, affected=10, by_state={}, stale_contacts=0)
    found = {deadline.code: deadline for deadline in breach_deadlines(breach)}
    assert found["hhs_log"].due.astimezone(BERLIN).date() == dt.date(2027, 3, 1)
    assert found["individuals"].due == dt.datetime(2026, 5, 9, 23, 59, 59, 999999, tzinfo=BERLIN)


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

"""The agreement date arithmetic (safeward/vendors/dates.py): month ends,
leap years, tacit renewal anchored on the first end, notice deadlines from the
renewed end (GLPI #23084) and reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safeward.vendors import dates

D = dt.date


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
        (D(2026, 12, 15), 1, D(2027, 1, 15)),
        (D(2026, 3, 31), -1, D(2026, 2, 28)),
        (D(2026, 8, 31), 6, D(2027, 2, 28)),
    ],
)
def test_add_months_clamps_to_the_month_end(day, months, expected):
    assert dates.add_months(day, months) == expected


def test_renewals_are_anchored_on_the_first_end_and_never_drift():
    terms = dates.Terms(start_date=D(2025, 2, 1), end_date=D(2026, 1, 31), tacit=True, renewal_months=1)
    assert [dates.term_end(terms, k) for k in range(4)] == [
        D(2026, 1, 31),
        D(2026, 2, 28),
        D(2026, 3, 31),  # not the 28th: computed from the anchor, not chained
        D(2026, 4, 30),
    ]


def test_leap_day_term_end_renews_to_the_last_day_of_february():
    terms = dates.Terms(start_date=D(2027, 3, 1), end_date=D(2028, 2, 29), tacit=True, renewal_months=12)
    assert dates.term_end(terms, 1) == D(2029, 2, 28)
    assert dates.term_end(terms, 4) == D(2032, 2, 29)


def test_glpi_23084_notice_deadline_counts_back_from_the_renewed_end():
    # Initial end 2025-08-28, 12-month tacit renewal, notice 61 days; on 2026-02-11 the
    # term in force ends 2026-08-28 and its notice deadline is in 2026, not 2025.
    terms = dates.Terms(
        start_date=D(2024, 8, 29), end_date=D(2025, 8, 28), tacit=True, renewal_months=12, notice_days=61
    )
    assert dates.current_end(terms, D(2026, 2, 11)) == D(2026, 8, 28)
    assert dates.current_notice_deadline(terms, D(2026, 2, 11)) == D(2026, 6, 28)


def test_glpi_6164_initial_term_and_renewal_period_differ():
    # Three years first, then one year at a time (GLPI counted the renewal period from the start).
    terms = dates.Terms(start_date=D(2020, 8, 1), end_date=D(2023, 7, 31), tacit=True, renewal_months=12)
    assert dates.current_end(terms, D(2021, 6, 1)) == D(2023, 7, 31)
    assert dates.current_end(terms, D(2023, 8, 1)) == D(2024, 7, 31)
    assert dates.current_end(terms, D(2026, 1, 1)) == D(2026, 7, 31)


def test_express_renewal_ends_at_the_end_date():
    terms = dates.Terms(start_date=D(2025, 1, 1), end_date=D(2025, 12, 31))
    assert dates.current_end(terms, D(2026, 6, 1)) == D(2025, 12, 31)
    assert not dates.in_force(terms, D(2026, 1, 1))
    assert dates.in_force(terms, D(2025, 12, 31))
    assert not dates.in_force(terms, D(2024, 12, 31))


def test_timely_notice_ends_a_tacit_agreement_at_that_term():
    terms = dates.Terms(
        start_date=D(2025, 1, 1),
        end_date=D(2025, 12, 31),
        tacit=True,
        notice_days=90,
        notice_given_on=D(2025, 10, 2),  # deadline 2025-10-02: just in time
    )
    assert dates.final_end(terms) == D(2025, 12, 31)
    assert not dates.in_force(terms, D(2026, 1, 1))


def test_late_notice_takes_effect_at_the_next_term():
    terms = dates.Terms(
        start_date=D(2025, 1, 1),
        end_date=D(2025, 12, 31),
        tacit=True,
        notice_days=90,
        notice_given_on=D(2025, 10, 3),  # one day late
    )
    assert dates.final_end(terms) == D(2026, 12, 31)
    assert dates.in_force(terms, D(2026, 6, 1))
    assert dates.current_end(terms, D(2027, 3, 1)) == D(2026, 12, 31)


def test_notice_across_a_leap_february():
    terms = dates.Terms(start_date=D(2027, 4, 1), end_date=D(2028, 3, 31), tacit=True, notice_days=31)
    assert dates.notice_deadline(terms, 0) == D(2028, 2, 29)


def test_reminders_at_90_60_30_days():
    end = D(2026, 3, 1)
    assert dates.reminder_dates(end) == {90: D(2025, 12, 1), 60: D(2025, 12, 31), 30: D(2026, 1, 30)}
    assert dates.reminders_due(end, D(2025, 11, 30)) == []
    assert dates.reminders_due(end, D(2026, 1, 1)) == [90, 60]
    assert dates.reminders_due(end, D(2026, 3, 2)) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_date": D(2026, 1, 2), "end_date": D(2026, 1, 1)},
        {"start_date": D(2026, 1, 1), "end_date": D(2026, 2, 1), "tacit": True, "renewal_months": 0},
        {"start_date": D(2026, 1, 1), "end_date": D(2026, 2, 1), "notice_days": -1},
    ],
)
def test_impossible_terms_are_refused(kwargs):
    with pytest.raises(ValueError, match=r"date|renewal|notice"):
        dates.Terms(**kwargs)


# No deadline: Hypothesis's default (200 ms per example) is a timed assertion,
# and on a loaded machine one descheduled example (~2 ms of work) exceeded it and
# failed the run while the property held; the replay then passed. Timing belongs
# in bench/, never in a test.
@settings(deadline=None)
@given(
    st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31)),
    st.integers(min_value=1, max_value=36),
    st.integers(min_value=0, max_value=5000),
)
def test_tacit_current_end_is_a_term_end_on_or_after_today(end, months, offset):
    terms = dates.Terms(
        start_date=end - dt.timedelta(days=30), end_date=end, tacit=True, renewal_months=months
    )
    today = end + dt.timedelta(days=offset)
    current = dates.current_end(terms, today)
    assert current >= today
    # The term ends up to the first one on or after `current` (at most 5000 days
    # of monthly terms), not a fixed 400 of them per example.
    k = 0
    while dates.term_end(terms, k) < current:
        k += 1
    assert dates.term_end(terms, k) == current
    assert k == 0 or dates.term_end(terms, k - 1) < today

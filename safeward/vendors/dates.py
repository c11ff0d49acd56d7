"""Agreement date arithmetic, pure (no database, no clock): terms, tacit
renewal, notice deadlines and reminder dates (ADR 1200).

Conventions, chosen against the errors GLPI has carried for years (its issues
#6164 and #23084: the notice deadline counted back from the *initial* end
instead of the renewed one; the initial and renewal periods confused):

* `end_date` is the last day the agreement is in force (inclusive).
* A renewal runs `renewal_months` from the day after the previous end, and is
  always computed from the first end date (`anchor`), never by chaining:
  an agreement ending 31 January renews to 28/29 February, then 31 March,
  never drifting to the 28th.
* The notice deadline of a term is the last day on which notice of
  non-renewal (or termination) still takes effect at that term's end:
  `term_end - notice_days`. Notice given later takes effect at the end of
  the next term.
* Express renewal: the agreement ends at `end_date` unless someone renews it
  (a new end date is recorded); tacit renewal: it rolls on until notice.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

MAX_TERMS = 1200  # 100 years of monthly renewals: a bound, never reached by real data
REMINDER_DAYS = (90, 60, 30)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus `months` calendar months, clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class Terms:
    start_date: dt.date
    end_date: dt.date  # last day of the first term, inclusive
    tacit: bool = False
    renewal_months: int = 12
    notice_days: int = 0
    notice_given_on: dt.date | None = None  # notice of non-renewal / termination

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise ValueError("The end date is before the start date.")
        if self.tacit and self.renewal_months < 1:
            raise ValueError("A tacitly renewed agreement needs a renewal period of at least one month.")
        if self.notice_days < 0:
            raise ValueError("The notice period cannot be negative.")


def term_end(terms: Terms, k: int) -> dt.date:
    """The last day of term `k` (0: the first term)."""
    if k == 0:
        return terms.end_date
    first_day_after = terms.end_date + dt.timedelta(days=1)
    return add_months(first_day_after, k * terms.renewal_months) - dt.timedelta(days=1)


def notice_deadline(terms: Terms, k: int) -> dt.date:
    return term_end(terms, k) - dt.timedelta(days=terms.notice_days)


def final_end(terms: Terms) -> dt.date | None:
    """The last day the agreement will ever be in force, as things stand:
    the first end for express renewal; for tacit renewal the end of the term
    whose notice deadline the notice met (None: no notice, it rolls on)."""
    if not terms.tacit:
        return terms.end_date
    if terms.notice_given_on is None:
        return None
    for k in range(MAX_TERMS):
        if terms.notice_given_on <= notice_deadline(terms, k):
            return term_end(terms, k)
    raise ValueError("Notice date too far beyond the agreement's terms.")


def current_end(terms: Terms, today: dt.date) -> dt.date:
    """The last day of the term in force (or last in force) on `today`:
    for tacit renewal the first term end on or after today, unless notice
    ended the agreement earlier."""
    stop = final_end(terms)
    if not terms.tacit:
        return terms.end_date
    for k in range(MAX_TERMS):
        end = term_end(terms, k)
        if stop is not None and end >= stop:
            return stop
        if end >= today:
            return end
    raise ValueError("Date too far beyond the agreement's terms.")


def in_force(terms: Terms, today: dt.date) -> bool:
    return terms.start_date <= today <= current_end(terms, today)


def current_notice_deadline(terms: Terms, today: dt.date) -> dt.date:
    """The notice deadline for the term in force on `today` (GLPI #23084:
    the renewed term's, not the first one's)."""
    return current_end(terms, today) - dt.timedelta(days=terms.notice_days)


def reminder_dates(end: dt.date, days: tuple[int, ...] = REMINDER_DAYS) -> dict[int, dt.date]:
    """The days on which the owner is reminded of an end, by days before it."""
    return {n: end - dt.timedelta(days=n) for n in days}


def reminders_due(end: dt.date, today: dt.date, days: tuple[int, ...] = REMINDER_DAYS) -> list[int]:
    """The reminders (90, 60, 30) whose day has come and the end not yet passed."""
    if today > end:
        return []
    return [n for n, day in reminder_dates(end, days).items() if day <= today]

"""The notification rules a breach clock computes (ADR 1402).

HIPAA Breach Notification Rule (45 CFR 164.404-164.410):
* individuals without unreasonable delay, at most 60 days after discovery;
* HHS at the same time when 500 or more are affected; when fewer, in the
  annual log, within 60 days after the end of the calendar year of discovery;
* prominent media when more than 500 residents of one state are affected;
* substitute notice when 10 or more individuals' contact details are out of
  date (fewer: another written or telephone notice).
GDPR article 33: the supervisory authority within 72 hours, where configured.

Days are the hospital's calendar days (ADR 1418): a deadline of N days falls
at the end of the Nth day after the local day of discovery, and the annual
log's year is the hospital's year, in the zone the caller passes
(settings.TIME_ZONE). Only GDPR's 72 hours is a duration.
State rules come from `data/state_rules.json`: each row cites its statute
and every shipped row is an example marked for legal review."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HHS_THRESHOLD = 500
MEDIA_THRESHOLD = 500  # more than this many residents of one state
SUBSTITUTE_THRESHOLD = 10
INDIVIDUAL_DAYS = 60
NEAR_DAYS = 14
UNKNOWN_STATE = "unknown"


@dataclass(frozen=True)
class Deadline:
    code: str
    label: str
    due: dt.datetime
    basis: str
    example: bool = False  # from a state row marked for legal review

    def state(self, now: dt.datetime, done: dt.datetime | None = None) -> str:
        if done is not None:
            return "done"
        if now > self.due:
            return "overdue"
        if self.due - now <= dt.timedelta(days=NEAR_DAYS):
            return "near"
        return "pending"


@cache
def state_rules() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "state_rules.json").read_text())
    return loaded


def end_of_day(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The last moment of `day` on the hospital's clock, in UTC (a DST change
    that day moves it in UTC, not on the wall)."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=zone).astimezone(dt.UTC)


def days_after(discovered: dt.datetime, days: int, zone: dt.tzinfo) -> dt.datetime:
    """The end of the `days`th calendar day after the local day of discovery."""
    return end_of_day(discovered.astimezone(zone).date() + dt.timedelta(days=days), zone)


def annual_log_due(discovered: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """60 days after the end of the hospital's calendar year the breach was discovered in."""
    year = discovered.astimezone(zone).year
    return end_of_day(dt.date(year, 12, 31) + dt.timedelta(days=INDIVIDUAL_DAYS), zone)


def deadlines(
    *,
    discovered: dt.datetime,
    affected: int,
    by_state: dict[str, int],
    stale_contacts: int,
    zone: dt.tzinfo,
    gdpr: bool = False,
) -> list[Deadline]:
    """Every notification due for a breach of `affected` patients discovered
    at `discovered`, counted in the hospital's time zone `zone`."""
    due: list[Deadline] = []
    if affected <= 0:
        return due
    sixty = days_after(discovered, INDIVIDUAL_DAYS, zone)
    due.append(Deadline("individuals", f"Notify {affected} individuals", sixty, "45 CFR 164.404(b)"))
    if affected >= HHS_THRESHOLD:
        due.append(Deadline("hhs", "Notify HHS (500 or more affected)", sixty, "45 CFR 164.408(b)"))
    else:
        due.append(
            Deadline(
                "hhs_log",
                "Log for HHS's annual report (fewer than 500 affected)",
                annual_log_due(discovered, zone),
                "45 CFR 164.408(c)",
            )
        )
    for state, count in sorted(by_state.items()):
        if state != UNKNOWN_STATE and count > MEDIA_THRESHOLD:
            due.append(
                Deadline(
                    f"media_{state}",
                    f"Notify prominent media in {state} ({count} residents)",
                    sixty,
                    "45 CFR 164.406",
                )
            )
    if stale_contacts >= SUBSTITUTE_THRESHOLD:
        due.append(
            Deadline(
                "substitute",
                f"Substitute notice: {stale_contacts} contacts out of date (web posting 90 days, or media)",
                sixty,
                "45 CFR 164.404(d)(2)(ii)",
            )
        )
    elif stale_contacts > 0:
        due.append(
            Deadline(
                "substitute_alt",
                f"Alternative written or telephone notice for {stale_contacts} out-of-date contacts",
                sixty,
                "45 CFR 164.404(d)(2)(i)",
            )
        )
    if gdpr:
        due.append(
            Deadline(
                "gdpr",
                "Notify the supervisory authority (GDPR)",
                discovered + dt.timedelta(hours=72),
                "GDPR art. 33",
            )
        )
    for rule in state_rules()["rules"]:
        residents = by_state.get(rule["state"], 0)
        if residents <= 0:
            continue
        if rule.get("resident_days"):
            due.append(
                Deadline(
                    f"state_{rule['state']}",
                    f"Notify {residents} {rule['state']} residents under state law",
                    days_after(discovered, int(rule["resident_days"]), zone),
                    rule["statute"],
                    example=bool(rule.get("example", True)),
                )
            )
        if rule.get("ag_threshold") and residents >= int(rule["ag_threshold"]):
            days = int(rule.get("ag_days") or INDIVIDUAL_DAYS)
            due.append(
                Deadline(
                    f"state_{rule['state']}_ag",
                    f"Notify the {rule['state']} Attorney General ({residents} residents)",
                    days_after(discovered, days, zone),
                    rule["statute"],
                    example=bool(rule.get("example", True)),
                )
            )
    return sorted(due, key=lambda deadline: (deadline.due, deadline.code))

"""The notification rules a breach clock computes (ADR 1402).

HIPAA Breach Notification Rule (45 CFR 164.404-164.410):
* individuals without unreasonable delay, at most 60 days after discovery;
* HHS at the same time when 500 or more are affected; when fewer, in the
  annual log, within 60 days after the end of the calendar year of discovery;
* prominent media when more than 500 residents of one state are affected;
* substitute notice when 10 or more individuals' contact details are out of
  date (fewer: another written or telephone notice).
GDPR article 33: the supervisory authority within 72 hours, where configured.
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


def annual_log_due(discovered: dt.datetime) -> dt.datetime:
    """60 days after the end of the calendar year the breach was discovered in."""
    year_end = dt.datetime(discovered.year, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    return year_end + dt.timedelta(days=60)


def deadlines(
    *,
    discovered: dt.datetime,
    affected: int,
    by_state: dict[str, int],
    stale_contacts: int,
    gdpr: bool = False,
) -> list[Deadline]:
    """Every notification due for a breach of `affected` patients discovered at `discovered`."""
    due: list[Deadline] = []
    if affected <= 0:
        return due
    sixty = discovered + dt.timedelta(days=INDIVIDUAL_DAYS)
    due.append(Deadline("individuals", f"Notify {affected} individuals", sixty, "45 CFR 164.404(b)"))
    if affected >= HHS_THRESHOLD:
        due.append(Deadline("hhs", "Notify HHS (500 or more affected)", sixty, "45 CFR 164.408(b)"))
    else:
        due.append(
            Deadline(
                "hhs_log",
                "Log for HHS's annual report (fewer than 500 affected)",
                annual_log_due(discovered),
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
                    discovered + dt.timedelta(days=int(rule["resident_days"])),
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
                    discovered + dt.timedelta(days=days),
                    rule["statute"],
                    example=bool(rule.get("example", True)),
                )
            )
    return sorted(due, key=lambda deadline: (deadline.due, deadline.code))

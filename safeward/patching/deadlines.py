"""Remediation deadlines that know exposure (ADR 1303).

The base is the policy table (severity x exposure, HICP Technical Volume 2,
Table 8: critical 14 days in the DMZ / 30 in the data centre, high 30/90,
medium 90/180, low 180/at discretion), then each tightening in turn:

* a KEV listing raises the severity to critical (settings), caps the days
  at CISA's own due date when that is still ahead, and at `kev_max_days`
  when one is set (none by default: the zone still decides);
* known ransomware use caps them at `ransomware_max_days`;
* an EPSS percentile at or above the threshold caps them at `epss_max_days`;
* patient impact (clinical services, departments or dependent assets that
  hold them) multiplies them by `patient_impact_factor`;
* a medical device follows HICP Table 12: interim mitigation within
  `medical_mitigation_days`, the vendor fix within `medical_fix_days`.

`compute` is pure: the services give it the facts and store its result,
its reasons (the finding page shows them) and its inputs (a change in them
is what makes `findings_recompute` move the date)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# HICP Technical Volume 2, Table 8 (None: at the owner's discretion).
HICP_TABLE_8: dict[tuple[str, str], int | None] = {
    ("critical", "dmz"): 14,
    ("critical", "internal"): 30,
    ("high", "dmz"): 30,
    ("high", "internal"): 90,
    ("medium", "dmz"): 90,
    ("medium", "internal"): 180,
    ("low", "dmz"): 180,
    ("low", "internal"): None,
}

# Network zones (asset free text or device segment zones) counted as exposed.
EXPOSED_ZONES = {"dmz", "internet", "internet-facing", "internet_facing", "public", "guest", "edge"}


def exposure_of(zone: str) -> str:
    return "dmz" if zone.strip().lower() in EXPOSED_ZONES else "internal"


@dataclass(frozen=True)
class Rules:
    table: dict[tuple[str, str], int | None]
    kev_escalates_to_critical: bool = True
    kev_max_days: int | None = None
    ransomware_max_days: int = 7
    epss_percentile: Decimal = Decimal("0.9")
    epss_max_days: int = 30
    patient_impact_factor: Decimal = Decimal("0.5")
    medical_mitigation_days: int = 30
    medical_fix_days: int = 60
    discretion_days: int = 365


@dataclass(frozen=True)
class Facts:
    severity: str
    zone: str
    detected_at: dt.datetime
    kev_due: dt.date | None = None
    ransomware: bool = False
    epss_percentile: Decimal | None = None
    patient_impact: tuple[str, ...] = ()
    medical: bool = False


@dataclass
class Deadline:
    severity: str
    due_at: dt.datetime
    mitigation_due_at: dt.datetime | None
    reasons: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)


def compute(facts: Facts, rules: Rules) -> Deadline:
    reasons: list[str] = []
    severity = facts.severity
    kev = facts.kev_due is not None
    if kev and rules.kev_escalates_to_critical and severity != "critical":
        reasons.append(f"Listed in CISA KEV: severity raised from {severity} to critical.")
        severity = "critical"
    exposure = exposure_of(facts.zone)
    days = rules.table.get((severity, exposure))
    where = "DMZ / internet facing" if exposure == "dmz" else "data centre / internal"
    if days is None:
        days = rules.discretion_days
        reasons.append(
            f"Policy table: {severity} in the {where} ({facts.zone or 'no zone recorded'}) is at the owner's"
            f" discretion; reported against {days} days."
        )
    else:
        reasons.append(
            f"Policy table (HICP Table 8): {severity} in the {where}"
            f" ({facts.zone or 'no zone recorded'}): {days} days."
        )
    if kev and rules.kev_max_days is not None and days > rules.kev_max_days:
        days = rules.kev_max_days
        reasons.append(f"Known exploited (KEV): at most {days} days.")
    if facts.ransomware and days > rules.ransomware_max_days:
        days = rules.ransomware_max_days
        reasons.append(f"Known ransomware campaign use: at most {days} days.")
    if (
        facts.epss_percentile is not None
        and facts.epss_percentile >= rules.epss_percentile
        and days > rules.epss_max_days
    ):
        days = rules.epss_max_days
        reasons.append(
            f"EPSS percentile {facts.epss_percentile:.3f} >= {rules.epss_percentile}: at most {days} days."
        )
    if facts.patient_impact and rules.patient_impact_factor < 1:
        tightened = max(1, math.floor(days * float(rules.patient_impact_factor)))
        if tightened < days:
            reasons.append(
                f"Patient impact ({', '.join(facts.patient_impact[:5])}):"
                f" {days} x {rules.patient_impact_factor}"
                f" = {tightened} days."
            )
            days = tightened
    mitigation = None
    if facts.medical:
        mitigation = facts.detected_at + dt.timedelta(days=rules.medical_mitigation_days)
        if days > rules.medical_fix_days:
            days = rules.medical_fix_days
        reasons.append(
            f"Medical device (HICP Table 12): interim mitigation within {rules.medical_mitigation_days} days,"
            f" vendor fix within {rules.medical_fix_days}."
        )
    due = facts.detected_at + dt.timedelta(days=days)
    if facts.kev_due is not None:
        kev_due = dt.datetime.combine(facts.kev_due, dt.time(23, 59), tzinfo=dt.UTC)
        if facts.detected_at < kev_due < due:
            due = kev_due
            reasons.append(f"CISA's KEV due date {facts.kev_due.isoformat()} comes first.")
    reasons.append(f"Clock started {facts.detected_at:%Y-%m-%d %H:%M} UTC; due {due:%Y-%m-%d}.")
    if mitigation is not None and mitigation > due:
        mitigation = due
    inputs = {
        "severity": facts.severity,
        "zone": facts.zone,
        "kev_due": facts.kev_due.isoformat() if facts.kev_due else None,
        "ransomware": facts.ransomware,
        "epss_percentile": str(facts.epss_percentile) if facts.epss_percentile is not None else None,
        "patient_impact": list(facts.patient_impact),
        "medical": facts.medical,
        "detected_at": facts.detected_at.isoformat(),
    }
    return Deadline(severity, due, mitigation, reasons, inputs)

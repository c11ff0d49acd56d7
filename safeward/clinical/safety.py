"""Clinical safety checks that need no database: drug-allergy classes and
the plausibility limits of measurements. No PHI here; the gateway calls
these with decrypted values and decides what to do with the answer.

* Drug-allergy: `drug_allergy_classes.json` (its source is noted in the
  file) maps a few drug classes to their members by RxNorm ingredient id
  and name. A medication belongs to a class when its RxNorm code is a
  member's, or when a member's name appears in its text; an allergy
  belongs to a class when its substance names the class or a member. The
  map's `cross_reactions` name class pairs that may cross-react (a
  penicillin allergy and a cephalosporin): an order of the second class for
  an allergy of the first is warned about too, with the map's caution.
* Plausibility: outside `impossible` a value cannot be a measurement of a
  living patient and is refused; outside `plausible` it is accepted only
  when the person confirms it (ADR 0575).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path

from safeward.clinical.lab_catalog import number

CLASS_MAP = Path(__file__).with_name("drug_allergy_classes.json")


@dataclass(frozen=True)
class DrugClass:
    code: str
    label: str
    allergy_terms: tuple[str, ...]
    names: tuple[str, ...]
    rxnorm: frozenset[str]


@dataclass(frozen=True)
class AllergyMatch:
    """An active allergy that a medication falls under, by drug class."""

    allergy_id: str
    substance: str
    criticality: str
    drug_class: str  # the class's label
    caution: str = ""  # a possible cross-reaction between classes: what to check


@cache
def drug_class_map() -> tuple[DrugClass, ...]:
    data = json.loads(CLASS_MAP.read_text(encoding="utf-8"))
    return tuple(
        DrugClass(
            code=entry["code"],
            label=entry["label"],
            allergy_terms=tuple(entry["allergy_terms"]),
            names=tuple(entry["members"]),
            rxnorm=frozenset(entry["members"].values()),
        )
        for entry in data["classes"]
    )


@cache
def cross_reactions() -> dict[tuple[str, str], str]:
    """(allergy class, drug class) -> the caution, for classes that may cross-react."""
    data = json.loads(CLASS_MAP.read_text(encoding="utf-8"))
    return {(c["allergy_class"], c["drug_class"]): c["caution"] for c in data.get("cross_reactions", [])}


def cross_reaction(drug: frozenset[str], allergy: frozenset[str]) -> tuple[str, str] | None:
    """The first (drug class code, caution) through which a medication of
    the `drug` classes may cross-react with an allergy of the `allergy` classes."""
    pairs = cross_reactions()
    for allergy_class in sorted(allergy):
        for drug_class in sorted(drug):
            caution = pairs.get((allergy_class, drug_class))
            if caution is not None:
                return drug_class, caution
    return None


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9-]+", " ", text.lower()) + " "


def _names_any(text: str, names: Iterable[str]) -> bool:
    padded = _words(text)
    return any(f" {name} " in padded for name in names)


def drug_classes(medication: str, rxnorm: str | None = None) -> frozenset[str]:
    """The codes of the classes a medication belongs to."""
    return frozenset(
        c.code for c in drug_class_map() if (rxnorm and rxnorm in c.rxnorm) or _names_any(medication, c.names)
    )


def allergy_classes(substance: str) -> frozenset[str]:
    """The codes of the classes an allergy's substance names (the class or a member)."""
    return frozenset(c.code for c in drug_class_map() if _names_any(substance, (*c.allergy_terms, *c.names)))


def names_substance(medication: str, substance: str) -> bool:
    """Whether the medication's text names the allergy's substance itself
    (an allergy to a drug outside the class map)."""
    words = _words(substance).strip()
    return len(words) >= 4 and f" {words} " in _words(medication)


def class_label(code: str) -> str:
    return next(c.label for c in drug_class_map() if c.code == code)


# --- plausibility --------------------------------------------------------------------------------
class Plausibility(StrEnum):
    PLAUSIBLE = "plausible"
    IMPLAUSIBLE = "implausible"  # saved only when confirmed
    IMPOSSIBLE = "impossible"  # never saved


@dataclass(frozen=True)
class Limits:
    unit: str
    impossible_below: Decimal
    impossible_above: Decimal
    plausible_from: Decimal
    plausible_to: Decimal


def _l(unit: str, impossible: tuple[str, str], plausible: tuple[str, str]) -> Limits:
    return Limits(
        unit, Decimal(impossible[0]), Decimal(impossible[1]), Decimal(plausible[0]), Decimal(plausible[1])
    )


# LOINC code -> limits. "Impossible" bounds are physical (a concentration
# below zero, a saturation over 100 %) or far beyond any survivable value;
# "plausible" bounds are wide clinical ranges (critical values inside them
# are real and must be saved without friction).
LIMITS: dict[str, Limits] = {
    # vital signs
    "8867-4": _l("/min", ("0", "350"), ("20", "250")),  # heart rate
    "8480-6": _l("mm[Hg]", ("0", "400"), ("50", "260")),  # systolic
    "8462-4": _l("mm[Hg]", ("0", "300"), ("20", "160")),  # diastolic
    "8310-5": _l("Cel", ("10", "50"), ("30", "43")),  # body temperature
    "9279-1": _l("/min", ("0", "150"), ("4", "60")),  # respiratory rate
    "59408-5": _l("%", ("0", "100"), ("50", "100")),  # oxygen saturation
    "29463-7": _l("kg", ("0.1", "700"), ("0.5", "300")),  # body weight
    # laboratory (units as in lab_catalog)
    "718-7": _l("g/dL", ("0", "30"), ("3", "25")),  # hemoglobin
    "6690-2": _l("10*3/uL", ("0", "1000"), ("0.1", "200")),  # leukocytes
    "777-3": _l("10*3/uL", ("0", "5000"), ("1", "2000")),  # platelets
    "2951-2": _l("mmol/L", ("0", "250"), ("100", "180")),  # sodium
    "2823-3": _l("mmol/L", ("0", "20"), ("1.5", "10")),  # potassium
    "2160-0": _l("mg/dL", ("0", "40"), ("0.1", "20")),  # creatinine
    "2345-7": _l("mg/dL", ("0", "5000"), ("10", "1500")),  # glucose
    "4548-4": _l("%", ("0", "100"), ("3", "20")),  # HbA1c
    "1988-5": _l("mg/L", ("0", "2000"), ("0", "500")),  # CRP
    "3016-3": _l("m[IU]/L", ("0", "1000"), ("0", "200")),  # TSH
    "1742-6": _l("U/L", ("0", "100000"), ("0", "10000")),  # ALT
    "6598-7": _l("ng/mL", ("0", "1000"), ("0", "100")),  # troponin T
}


@dataclass(frozen=True)
class Verdict:
    plausibility: Plausibility
    limits: Limits | None = None

    @property
    def message(self) -> str:
        """What the person reads: the limits, never the value."""
        limits = self.limits
        if limits is None or self.plausibility is Plausibility.PLAUSIBLE:
            return ""
        if self.plausibility is Plausibility.IMPOSSIBLE:
            return (
                f"Not a possible value: it must lie between {limits.impossible_below} and "
                f"{limits.impossible_above} {limits.unit}. Nothing was saved."
            )
        return (
            f"Outside the usual range ({limits.plausible_from}\N{EN DASH}{limits.plausible_to} "
            f"{limits.unit}). Check the value and confirm it to save."
        )


def plausibility(code: str, unit: str, value: str | None) -> Verdict:
    """How plausible a measurement is. A code without limits, or a unit other
    than the one the limits are in, is not judged (PLAUSIBLE); a value that
    is not a number for a code with limits is IMPOSSIBLE."""
    limits = LIMITS.get(code)
    if limits is None or unit != limits.unit:
        return Verdict(Plausibility.PLAUSIBLE)
    amount = number(value)
    if amount is None or not limits.impossible_below <= amount <= limits.impossible_above:
        return Verdict(Plausibility.IMPOSSIBLE, limits)
    if not limits.plausible_from <= amount <= limits.plausible_to:
        return Verdict(Plausibility.IMPLAUSIBLE, limits)
    return Verdict(Plausibility.PLAUSIBLE, limits)

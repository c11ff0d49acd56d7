"""The laboratory's order catalog: the tests a clinician can order from the
chart, each with its LOINC code, UCUM unit and adult reference interval.

No PHI here. The reference interval and the abnormal flag of a result are
derived from this catalog (ADR 0530): the result row stores the value and
unit; `interpret` turns them into a flag wherever a result is shown, so a
result and its flag can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class Flag(StrEnum):
    """HL7 v2 table 0078 / FHIR ObservationInterpretation codes."""

    NORMAL = "N"
    LOW = "L"
    HIGH = "H"
    CRITICAL_LOW = "LL"
    CRITICAL_HIGH = "HH"

    @property
    def label(self) -> str:
        return FLAG_LABELS[self]

    @property
    def abnormal(self) -> bool:
        return self is not Flag.NORMAL


FLAG_LABELS = {
    Flag.NORMAL: "normal",
    Flag.LOW: "low",
    Flag.HIGH: "high",
    Flag.CRITICAL_LOW: "critically low",
    Flag.CRITICAL_HIGH: "critically high",
}


@dataclass(frozen=True)
class LabTest:
    code: str  # LOINC
    display: str
    unit: str  # UCUM
    low: Decimal | None
    high: Decimal | None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None
    decimals: int = 1

    @property
    def reference(self) -> str:
        """The reference interval as printed on a report, e.g. "3.5 to 5.1 mmol/L" with an en dash."""
        if self.low is not None and self.high is not None:
            return f"{self.low}\N{EN DASH}{self.high} {self.unit}"
        if self.high is not None:
            return f"< {self.high} {self.unit}"
        if self.low is not None:
            return f"> {self.low} {self.unit}"
        return ""

    @property
    def label(self) -> str:
        return f"{self.display} ({self.code})"


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# A short adult catalog; the codes and intervals are the common ones printed
# by hospital laboratories (intervals vary by analyser: a site edits this table).
CATALOG: tuple[LabTest, ...] = (
    LabTest(
        "718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", _d("12.0"), _d("17.5"), _d("7.0"), _d("20.0")
    ),
    LabTest(
        "6690-2", "Leukocytes [#/volume] in Blood", "10*3/uL", _d("4.0"), _d("11.0"), _d("1.0"), _d("30.0")
    ),
    LabTest(
        "777-3", "Platelets [#/volume] in Blood", "10*3/uL", _d("150"), _d("400"), _d("20"), _d("1000"), 0
    ),
    LabTest(
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        _d("135"),
        _d("145"),
        _d("120"),
        _d("160"),
        0,
    ),
    LabTest(
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        _d("3.5"),
        _d("5.1"),
        _d("2.5"),
        _d("6.5"),
    ),
    LabTest(
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        _d("0.6"),
        _d("1.3"),
        None,
        _d("10.0"),
        2,
    ),
    LabTest(
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
        "mg/dL",
        _d("70"),
        _d("99"),
        _d("40"),
        _d("500"),
        0,
    ),
    LabTest("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", _d("4.0"), _d("5.6")),
    LabTest("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", None, _d("5.0")),
    LabTest(
        "3016-3",
        "Thyrotropin [Units/volume] in Serum or Plasma",
        "m[IU]/L",
        _d("0.4"),
        _d("4.0"),
        None,
        None,
        2,
    ),
    LabTest(
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        _d("7"),
        _d("56"),
        None,
        None,
        0,
    ),
    LabTest(
        "6598-7",
        "Troponin T.cardiac [Mass/volume] in Serum or Plasma",
        "ng/mL",
        None,
        _d("0.01"),
        None,
        _d("0.1"),
        3,
    ),
)

BY_CODE: dict[str, LabTest] = {test.code: test for test in CATALOG}


def lab_test(code: str) -> LabTest | None:
    return BY_CODE.get(code)


def number(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        result = Decimal(value.strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def interpret(code: str, unit: str, value: str | None) -> Flag | None:
    """The abnormal flag of a result against the catalog's interval; None when
    the test is not in the catalog, the unit differs or the value is not a number."""
    test = BY_CODE.get(code)
    amount = number(value)
    if test is None or amount is None or unit != test.unit:
        return None
    if test.critical_low is not None and amount < test.critical_low:
        return Flag.CRITICAL_LOW
    if test.critical_high is not None and amount > test.critical_high:
        return Flag.CRITICAL_HIGH
    if test.low is not None and amount < test.low:
        return Flag.LOW
    if test.high is not None and amount > test.high:
        return Flag.HIGH
    return Flag.NORMAL


def reference_for(code: str, unit: str) -> str:
    test = BY_CODE.get(code)
    return test.reference if test is not None and test.unit == unit else ""

"""What the scanner looks for in text: identifiers to check against our own
patient index (exact match) and patterns of PHI that is not in it.

`TextTally.feed(text)` takes text in blocks that end at a line break and
keeps two things, never the matched values themselves beyond the scan of
one file:

* **counts** per category (``ssn``, ``mrn``, ``icd10``, ``dob_with_name``,
  ``phone``, ``email``, ``address``): what a finding stores;
* **candidates** per identifier kind (``mrn``, ``national_id``,
  ``birth_date``, ``phone``): distinct values that the caller turns into
  keyed hashes for the exact match and then drops.

An SSN counts only when python-stdnum says it is a valid one; a national
id *candidate* is any ``NNN-NN-NNNN`` (a hospital's own test or foreign ids
need not be valid SSNs to be ours).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from stdnum.us import ssn as us_ssn

# Categories of a finding, in display order.
CATEGORIES = ("ssn", "mrn", "icd10", "dob_with_name", "phone", "email", "address")
# Identifier kinds of the exact match (keys of clinical's PATIENT_DISCOVERY_INDEXES).
CANDIDATE_KINDS = ("mrn", "national_id", "birth_date", "phone")

DEFAULT_MRN_PATTERN = r"\b[A-Z]{2,8}-\d{4,10}\b|(?<=MRN)[:#\s]*\d{5,12}\b"

_SSN = re.compile(r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])")
_ISO_DATE = re.compile(r"(?<![\d-])((?:19|20)\d\d)-([01]\d)-([0-3]\d)(?![\d-])")
_US_DATE = re.compile(r"(?<![\d/])([01]?\d)/([0-3]?\d)/((?:19|20)\d\d)(?![\d/])")
_DOT_DATE = re.compile(r"(?<![\d.])([0-3]?\d)\.([01]?\d)\.((?:19|20)\d\d)(?![\d.])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)"
    r"|(?<![\w+])\+(?:[2-9]\d{0,2})(?:[\s.-]?\d{2,4}){2,5}(?!\d)"
)
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ICD10 = re.compile(r"(?<![A-Za-z0-9.])[A-TV-Z]\d[0-9AB]\.[0-9A-TV-Z]{1,4}(?![A-Za-z0-9])")
_ADDRESS = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\.?\s+){1,3}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Terrace)\b"
)
# "Jane Doe", "Doe,Jane" (CSV) or "DOE, Jane" on the line of a date, or a label saying it is a birth date.
_NAME_CASED = re.compile(
    r"\b[A-Z][a-z'\u2019-]+(?:,\s*|\t|\s+)[A-Z][a-z'\u2019-]+\b|\b[A-Z]{2,}, [A-Z][a-z]+\b"
)
_BIRTH_LABEL = re.compile(r"\b(?:dob|d\.o\.b|birth|born)\b", re.IGNORECASE)


def _line_around(text: str, start: int, end: int) -> str:
    left = text.rfind("\n", 0, start) + 1
    right = text.find("\n", end)
    return text[left : right if right >= 0 else len(text)]


def _iso(year: str, month: str, day: str) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


@dataclass
class TextTally:
    """Counts and exact-match candidates of one file (or archive member set)."""

    mrn_pattern: re.Pattern[str] = field(default_factory=lambda: re.compile(DEFAULT_MRN_PATTERN))
    max_candidates: int = 1_000_000
    counts: Counter[str] = field(default_factory=Counter)
    candidates: dict[str, set[str]] = field(default_factory=lambda: {kind: set() for kind in CANDIDATE_KINDS})
    candidates_capped: bool = False

    def _candidate(self, kind: str, value: str) -> None:
        bucket = self.candidates[kind]
        if len(bucket) < self.max_candidates:
            bucket.add(value)
        else:
            self.candidates_capped = True

    def feed(self, text: str) -> None:
        """Scan a block of text that ends at a line break (or the end of the file)."""
        counts = self.counts
        for match in _SSN.finditer(text):
            value = match.group()
            self._candidate("national_id", value)
            if us_ssn.is_valid(value):
                counts["ssn"] += 1
        for match in self.mrn_pattern.finditer(text):
            counts["mrn"] += 1
            self._candidate("mrn", match.group().strip(" :#\t"))
        dates: list[tuple[str | None, int, int]] = []
        for match in _ISO_DATE.finditer(text):
            dates.append((_iso(*match.groups()), match.start(), match.end()))
        for match in _US_DATE.finditer(text):
            month, day, year = match.groups()
            dates.append((_iso(year, month, day), match.start(), match.end()))
        for match in _DOT_DATE.finditer(text):
            day, month, year = match.groups()
            dates.append((_iso(year, month, day), match.start(), match.end()))
        for iso, start, end in dates:
            if iso is None:
                continue
            self._candidate("birth_date", iso)
            line = _line_around(text, start, end)
            if _BIRTH_LABEL.search(line) or _NAME_CASED.search(line):
                counts["dob_with_name"] += 1
        for match in _PHONE.finditer(text):
            counts["phone"] += 1
            self._candidate("phone", match.group())
        counts["email"] += len(_EMAIL.findall(text))
        counts["icd10"] += len(_ICD10.findall(text))
        counts["address"] += len(_ADDRESS.findall(text))

    @property
    def pattern_hits(self) -> int:
        return sum(self.counts[category] for category in CATEGORIES)

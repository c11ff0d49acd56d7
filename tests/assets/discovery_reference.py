"""The PHI detectors as they were before the RE2 gates (ADR 1640), kept as
the reference that tests/assets/test_discovery_equivalence.py holds the
gated detectors to: the same counts and candidates on every corpus."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from dataclasses import dataclass, field

from safeward.assets.discovery.detectors import (
    CANDIDATE_KINDS,
    MAX_NAME_WORDS,
    ssn_valid,
)

DEFAULT_MRN_PATTERN = r"\b[A-Z]{2,8}-\d{4,10}\b|(?<=MRN)[:#\s]*\d{5,12}\b"
_SSN = re.compile(r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])")
_ISO_DATE = re.compile(r"(?<![\d-])((?:19|20)\d\d)-([01]\d)-([0-3]\d)(?![\d-])")
_US_DATE = re.compile(r"(?<![\d/])([01]?\d)/([0-3]?\d)/((?:19|20)\d\d)(?![\d/])")
_DOT_DATE = re.compile(r"(?<![\d.])([0-3]?\d)\.([01]?\d)\.((?:19|20)\d\d)(?![\d.])")
# Both forms share one lookbehind, factored out: the same matches, a third faster.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)"
    r"|\+(?:[2-9]\d{0,2})(?:[\s.-]?\d{2,4}){2,5}(?!\d))"
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
# A capitalised word (O'Neil-Smith and DOE too): the words of a named line tried as family names.
# Not the letters of an identifier (EXT-0012345, E11.9): a word ends at a space or punctuation.
_NAME_WORD = re.compile(r"(?<![A-Za-z0-9'\u2019-])[A-Z][A-Za-z'\u2019-]*[A-Za-z](?![A-Za-z0-9'\u2019-])")
_BIRTH_LABEL = re.compile(r"\b(?:dob|d\.o\.b|birth|born)\b", re.IGNORECASE)


def _line_around(text: str, start: int, end: int) -> str:
    left = text.rfind("\n", 0, start) + 1
    right = text.find("\n", end)
    return text[left : right if right >= 0 else len(text)]


@functools.lru_cache(maxsize=1 << 16)
def _iso(year: str, month: str, day: str) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


@dataclass
class ReferenceTally:
    """The ungated TextTally of before ADR 1640."""

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

    def _candidates(self, kind: str, values: list[str]) -> None:
        bucket = self.candidates[kind]
        if len(bucket) + len(values) <= self.max_candidates:
            bucket.update(values)
        else:
            for value in values:
                self._candidate(kind, value)

    def feed(self, text: str) -> None:
        """Scan a block of text that ends at a line break (or the end of the file).

        Each pattern runs only where its required character occurs in the
        block, candidates are added to their sets in bulk, and a date's line
        is looked at once for a name or a birth label however many dates it
        holds (ADR 0812)."""
        counts = self.counts
        ssns = [match.group() for match in _SSN.finditer(text)]
        if ssns:
            self._candidates("national_id", ssns)
            counts["ssn"] += sum(map(ssn_valid, ssns))
        mrns = [match.group().strip(" :#\t") for match in self.mrn_pattern.finditer(text)]
        if mrns:
            counts["mrn"] += len(mrns)
            self._candidates("mrn", mrns)
        dates: list[tuple[str | None, int, int]] = []
        if "-" in text:
            for match in _ISO_DATE.finditer(text):
                dates.append((_iso(*match.groups()), match.start(), match.end()))
        if "/" in text:
            for match in _US_DATE.finditer(text):
                month, day, year = match.groups()
                dates.append((_iso(year, month, day), match.start(), match.end()))
        if "." in text:
            for match in _DOT_DATE.finditer(text):
                day, month, year = match.groups()
                dates.append((_iso(year, month, day), match.start(), match.end()))
        lines: dict[int, tuple[bool, list[str]]] = {}
        births: list[str] = []
        pairs: list[str] = []
        for iso, start, end in dates:
            if iso is None:
                continue
            births.append(iso)
            line_start = text.rfind("\n", 0, start) + 1
            seen = lines.get(line_start)
            if seen is None:
                line = _line_around(text, start, end)
                named = bool(_BIRTH_LABEL.search(line) or _NAME_CASED.search(line))
                words = list(dict.fromkeys(_NAME_WORD.findall(line)))[:MAX_NAME_WORDS] if named else []
                seen = lines[line_start] = (named, words)
            named, words = seen
            if named:
                counts["dob_with_name"] += 1
            pairs.extend(f"{word}|{iso}" for word in words)
        if births:
            self._candidates("birth_date", births)
        if pairs:
            self._candidates("name_dob", pairs)
        phones = [match.group() for match in _PHONE.finditer(text)]
        if phones:
            counts["phone"] += len(phones)
            self._candidates("phone", phones)
        if "@" in text:
            counts["email"] += len(_EMAIL.findall(text))
        if "." in text:
            counts["icd10"] += len(_ICD10.findall(text))
        counts["address"] += len(_ADDRESS.findall(text))

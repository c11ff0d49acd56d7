"""What the scanner looks for in text: identifiers to check against our own
patient index (exact match) and patterns of PHI that is not in it.

`TextTally.feed(text)` takes text in blocks that end at a line break and
keeps two things, never the matched values themselves beyond the scan of
one file:

* **counts** per category (``ssn``, ``mrn``, ``icd10``, ``dob_with_name``,
  ``phone``, ``email``, ``address``): what a finding stores;
* **candidates** per identifier kind (``mrn``, ``national_id``,
  ``birth_date``, ``phone``, ``name_dob``): distinct values that the caller
  turns into keyed hashes for the exact match and then drops. A
  ``name_dob`` candidate is ``Word|YYYY-MM-DD`` for each capitalised word
  (up to eight) of a line holding a valid date and a name or a birth label (which word is
  the family name is not known: each is tried; ADR 0813).

An SSN counts only when python-stdnum says it is a valid one; a national
id *candidate* is any ``NNN-NN-NNNN`` (a hospital's own test or foreign ids
need not be valid SSNs to be ours).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from dataclasses import dataclass, field

import re2
from stdnum.us import ssn as us_ssn

# Categories of a finding, in display order.
CATEGORIES = ("ssn", "mrn", "icd10", "dob_with_name", "phone", "email", "address")
# Identifier kinds of the exact match (keys of clinical's PATIENT_DISCOVERY_INDEXES).
CANDIDATE_KINDS = ("mrn", "national_id", "birth_date", "phone", "name_dob")
# At most this many name words of one line are paired with its dates (prose has many capitals).
MAX_NAME_WORDS = 8

# `\b[A-Z]{2,8}-\d{4,10}\b|(?<=MRN)[:#\s]*\d{5,12}\b`, its word boundary written
# after the first letter (see below): the same matches, 1.6x faster.
DEFAULT_MRN_PATTERN = r"[A-Z](?<!\w[A-Z])[A-Z]{1,7}-\d{4,10}\b|(?<=MRN)[:#\s]*\d{5,12}\b"

# A lookbehind on the first character is written after it (`\d(?<![\d-]\d)` is
# `(?<![\d-])\d`): the same matches, but `re` can then skip ahead to a possible
# first character instead of trying the whole pattern at every position.
_SSN = re.compile(r"\d(?<![\d-]\d)\d\d([- ])\d{2}\1\d{4}(?![\d-])")
_ISO_DATE = re.compile(r"((?:1(?<![\d-]1)9|2(?<![\d-]2)0)\d\d)-([01]\d)-([0-3]\d)(?![\d-])")
_US_DATE = re.compile(r"(?<![\d/])([01]?\d)/([0-3]?\d)/((?:19|20)\d\d)(?![\d/])")
_DOT_DATE = re.compile(r"(?<![\d.])([0-3]?\d)\.([01]?\d)\.((?:19|20)\d\d)(?![\d.])")
# Both forms share one lookbehind, factored out: the same matches, a third faster;
# the lookahead names the possible first characters, which `re` then skips to.
_PHONE = re.compile(
    r"(?=[+(1-9])(?<![\w+])(?:(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)"
    r"|\+(?:[2-9]\d{0,2})(?:[\s.-]?\d{2,4}){2,5}(?!\d))"
)
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ICD10 = re.compile(r"[A-TV-Z](?<![A-Za-z0-9.][A-TV-Z])\d[0-9AB]\.[0-9A-TV-Z]{1,4}(?![A-Za-z0-9])")
_STREET = "Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Terrace"
_ADDRESS = re.compile(r"\d(?<!\w\d)\d{0,4}\s+(?:[A-Z][a-z]+\.?\s+){1,3}(?:" + _STREET + r")\b")
# "Jane Doe", "Doe,Jane" (CSV) or "DOE, Jane" on the line of a date, or a label saying it is a birth date.
_NAME_CASED = re.compile(
    r"\b[A-Z][a-z'\u2019-]+(?:,\s*|\t|\s+)[A-Z][a-z'\u2019-]+\b|\b[A-Z]{2,}, [A-Z][a-z]+\b"
)
# A capitalised word (O'Neil-Smith and DOE too): the words of a named line tried as family names.
# Not the letters of an identifier (EXT-0012345, E11.9): a word ends at a space or punctuation.
_NAME_WORD = re.compile(r"[A-Z](?<![A-Za-z0-9'\u2019-][A-Z])[A-Za-z'\u2019-]*[A-Za-z](?![A-Za-z0-9'\u2019-])")
_BIRTH_LABEL = re.compile(r"\b(?:dob|d\.o\.b|birth|born)\b", re.IGNORECASE)


# The gates (ADR 1640): for each detector, a pattern without lookarounds or
# back-references that matches wherever the detector could (a superset), run
# together in one RE2 set over a block's ASCII bytes. A detector whose gate
# does not match anywhere in the block cannot match either and is not run;
# RE2 scans a block at hundreds of MB/s where `re` manages tens per pattern.
# `\s` is spelled out: in Python text it also takes \v and \x1c-\x1f.
_S = rb"[\t\n\x0b\x0c\r\x1c-\x1f ]"
_GATE_PATTERNS = {
    "ssn": rb"\d{3}[- ]\d{2}[- ]\d{4}",
    "mrn": rb"[A-Z]{2,8}-\d{4}|MRN",
    "iso_date": rb"(?:19|20)\d\d-[01]\d-[0-3]\d",
    "us_date": rb"\d/\d{1,2}/(?:19|20)\d\d",
    "dot_date": rb"\d\.\d{1,2}\.(?:19|20)\d\d",
    "phone": rb"[2-9]\d{2}\)?" + _S.replace(b"]", b".-]") + rb"\d{3}|\+[2-9]",
    "email": rb"@[A-Za-z0-9-]+\.",
    "icd10": rb"[A-TV-Z]\d[0-9AB]\.[0-9A-TV-Z]",
    # The whole pattern but its lookbehind (ADR 1645): a time or a count before a capitalised
    # word ("08:41 Pipette", "2 Nurses") no longer opens it (equipment logs, rosters).
    "address": rb"\d" + _S + rb"+(?:[A-Z][a-z]+\.?" + _S + rb"+){1,3}(?:" + _STREET.encode() + rb")\b",
    "birth_label": rb"(?i)dob|d\.o\.b|birth|born",
}
_GATE_NAMES = tuple(_GATE_PATTERNS)
ALL_GATES = frozenset(_GATE_NAMES)


def _gate_set() -> re2.Set:
    gates = re2.Set.SearchSet(re2.Options())
    for pattern in _GATE_PATTERNS.values():
        gates.Add(pattern)
    gates.Compile()
    return gates


_GATES = _gate_set()


def open_gates(text: str) -> frozenset[str]:
    """The detectors that may match in `text`. Only ASCII text is gated: the
    gates' classes are ASCII, while `re` gives digits, word characters and
    spaces their Unicode meaning in other text, where every detector runs."""
    if not text.isascii():
        return ALL_GATES
    return frozenset(_GATE_NAMES[index] for index in _GATES.Match(text.encode("ascii")) or ())


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


_SSN_BLACKLIST = frozenset(("078-05-1120", "457-55-5462", "219-09-9999"))


def ssn_valid(value: str) -> bool:
    """python-stdnum's `us.ssn.is_valid` for what `_SSN` matches, without its
    per-call Unicode cleaning for ASCII values (a fifth of the scan's time):
    dashes only (stdnum refuses spaces), no area 000, 666 or 9xx, no group
    00, no serial 0000, none of the published invalid numbers. Anything else
    goes to stdnum (tests/assets/test_discovery_engine.py checks both agree)."""
    if not value.isascii() or len(value) != 11:
        return bool(us_ssn.is_valid(value))
    if value[3] != "-":
        return False
    area = value[:3]
    return not (
        area in ("000", "666")
        or area[0] == "9"
        or value[4:6] == "00"
        or value[7:] == "0000"
        or value in _SSN_BLACKLIST
    )


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
        gates = open_gates(text)
        if "ssn" in gates:
            ssns = [match[0] for match in _SSN.finditer(text)]
            if ssns:
                self._candidates("national_id", ssns)
                counts["ssn"] += sum(map(ssn_valid, ssns))
        # An MRN pattern from the settings has no gate: it always runs.
        if "mrn" in gates or self.mrn_pattern.pattern != DEFAULT_MRN_PATTERN:
            mrns = [match[0].strip(" :#\t") for match in self.mrn_pattern.finditer(text)]
            if mrns:
                counts["mrn"] += len(mrns)
                self._candidates("mrn", mrns)
        dates: list[tuple[str | None, int, int]] = []
        if "iso_date" in gates:
            for match in _ISO_DATE.finditer(text):
                dates.append((_iso(*match.groups()), match.start(), match.end()))
        if "us_date" in gates:
            for match in _US_DATE.finditer(text):
                month, day, year = match.groups()
                dates.append((_iso(year, month, day), match.start(), match.end()))
        if "dot_date" in gates:
            for match in _DOT_DATE.finditer(text):
                day, month, year = match.groups()
                dates.append((_iso(year, month, day), match.start(), match.end()))
        if dates:
            self._dated_lines(text, dates, labelled="birth_label" in gates)
        if "phone" in gates:
            phones = [match[0] for match in _PHONE.finditer(text)]
            if phones:
                counts["phone"] += len(phones)
                self._candidates("phone", phones)
        if "email" in gates:
            counts["email"] += len(_EMAIL.findall(text))
        if "icd10" in gates:
            counts["icd10"] += len(_ICD10.findall(text))
        if "address" in gates:
            counts["address"] += len(_ADDRESS.findall(text))

    def _dated_lines(self, text: str, dates: list[tuple[str | None, int, int]], *, labelled: bool) -> None:
        """Birth date candidates, and names beside them: a date's line is
        looked at once however many dates it holds, and for a birth label
        only when the block holds one (its gate)."""
        lines: dict[int, tuple[bool, list[str]]] = {}
        births: list[str] = []
        pairs: list[str] = []
        named_dates = 0
        for iso, start, end in dates:
            if iso is None:
                continue
            births.append(iso)
            line_start = text.rfind("\n", 0, start) + 1
            seen = lines.get(line_start)
            if seen is None:
                line = _line_around(text, start, end)
                named = bool((labelled and _BIRTH_LABEL.search(line)) or _NAME_CASED.search(line))
                words = list(dict.fromkeys(_NAME_WORD.findall(line)))[:MAX_NAME_WORDS] if named else []
                seen = lines[line_start] = (named, words)
            named, words = seen
            if named:
                named_dates += 1
                pairs.extend([f"{word}|{iso}" for word in words])
        if named_dates:
            self.counts["dob_with_name"] += named_dates
        if births:
            self._candidates("birth_date", births)
        if pairs:
            self._candidates("name_dob", pairs)

    @property
    def pattern_hits(self) -> int:
        return sum(self.counts[category] for category in CATEGORIES)

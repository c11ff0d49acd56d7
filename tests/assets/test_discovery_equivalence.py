"""The gated detectors (ADR 1640) find exactly what the ungated ones of
before found: the same counts and the same exact-match candidates, over the
benchmark's rows in every format, Synthea's FHIR bundles, hand-made edge
cases and seeded random text built from the characters the patterns care
about."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from safeward.assets.discovery.detectors import ALL_GATES, TextTally, open_gates
from safeward.assets.discovery.formats import Budget, Limits, read_into
from safeward.demo.share_files import write_csv, write_docx, write_pdf, write_xlsx
from tests.assets.discovery_reference import ReferenceTally

HEADER = ["mrn", "name", "dob", "ssn", "phone", "dx", "addr"]
SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "synthea" / "bundles"


def assert_same(text: str) -> None:
    new, old = TextTally(), ReferenceTally()
    new.feed(text)
    old.feed(text)
    assert new.counts == old.counts
    assert new.candidates == old.candidates


def assert_same_file(path: Path) -> None:
    tallies = []
    for tally in (TextTally(), ReferenceTally()):
        with path.open("rb") as stream:
            read_into(stream, path.name, tally, Budget(Limits(block_bytes=4096)))  # type: ignore[arg-type]
        tallies.append(tally)
    new, old = tallies
    assert new.counts == old.counts
    assert new.candidates == old.candidates


def bench_rows(count: int, seed: int = 7) -> list[list[str]]:
    """Rows like bench/discovery_throughput.py's: every one all PHI."""
    rng = random.Random(seed)
    first = ["Ada", "Ben", "Cleo", "Dev", "Eve"]
    last = ["Quist", "Roe", "Stone", "O'Neil", "Underwood"]
    return [
        [
            f"EXT-{rng.randint(0, 9_999_999):07d}",
            f"{rng.choice(first)} {rng.choice(last)}",
            f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(100, 999):03d}-{rng.randint(0, 99):02d}-{rng.randint(0, 9999):04d}",
            f"+1 555 {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
            rng.choice(["E11.9", "I10", "J45.909", "Z00.00"]),
            f"{rng.randint(1, 999)} Main Street",
        ]
        for _ in range(count)
    ]


@pytest.mark.parametrize(
    "writer",
    [
        lambda path, rows: write_csv(path / "a.csv", HEADER, rows),
        lambda path, rows: write_xlsx(path / "a.xlsx", HEADER, rows),
        lambda path, rows: write_docx(path / "a.docx", [" ".join(row) for row in rows]),
        lambda path, rows: write_pdf(path / "a.pdf", [" ".join(row) for row in rows[:200]]),
    ],
    ids=["csv", "xlsx", "docx", "pdf"],
)
def test_benchmark_rows_in_every_format(tmp_path, writer):
    assert_same_file(writer(tmp_path, bench_rows(600)))


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="shared Synthea bundles not present")
def test_synthea_bundles():
    bundles = sorted(SYNTHEA.glob("*.json"))
    assert bundles
    for bundle in bundles:
        assert_same_file(bundle)


EDGE_CASES = [
    "123-45-6789 123-45-6789,123 45 6789\n1123-45-6789 -123-45-6789 123-45-67890 123-45 6789",
    "123-45-6789",  # at the very start and end of a block
    "DOB: 03/04/1980 Jane Doe 4.5.1999 12.31.2001 1980-13-45 2001-02-29 2000-02-29\n",
    "born 1/2/1990\nBirth 1990-01-02, d.o.b 02.01.1990 DOBBY 1990-01-02 Unborn 1990-01-03",
    "DOE, Jane 1970-01-01\tSMITH,John\nO\u2019Neil-Smith Anne 1970-01-01 EXT-0012345 E11.9",
    "MRN: 1234567 MRN#12345\nMRN\t\t123456789012 ABCDEFGHI-1234 AB-123 XY-12345678901",
    "(555) 303-1212 555.303.1212 +1-555-303-1212 1 555 303 1212 a555-303-1212 +44 20 7946 0958",
    "+2 34 56 +33 1 23 45 67 89 ++44 20 7946 0958 +1555\x1c303\x1f1212",
    "jane@example.org x.y+z@a-b.c.museum @nowhere.org a@b.c mail@@host.com",
    "12 Main Street 12345 Oak Tree Lane Blvd\n7\x0bSecond\x0cAve 99\x1cElm St. Rd 5 Main\nStreet",
    "I10 E11.9 J45.909 Z00.00 U07.1 E11.9X A0B.1234 .E11.9 xE11.9 E11.9a",
    "\u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669 Jane Doe \u0661\u0669\u0668\u0660-01-02",
    "Jos\u00e9 Garc\u00eda 1980-02-03 123-45-6789 caf\u00e9 +1 555 201 4567 12\u00a0Main Street",
    "Ann Lee 1990-01-01 1991-02-02 1992-03-03 A B C D E F G H I J K L 1993-04-04\n",
    "",
    "\n\n\n",
    # Addresses: the gate is the whole pattern but its lookbehind (ADR 1645).
    "12 Main St. 12\tOak  Lane\n12\nMain\nStreet 1 A Street 12 Main Streets 5 Main Stop",
    "5 Dr Dr 99 Ave Maria Ave 3 St St",
    "x1 Main Street a1 Oak Rd 7 Old Mill Way. 8 Very Long Name Here Court 9 Two Words Terrace\n",
    "2026-02-01 08:41 Pipette set S/N 224428 checked by A. Quist, reading 1094.6 OK\n",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases(text):
    assert_same(text)


PIECES = (
    list("0123456789" * 3)
    + list("-/.,:;#()+@ \t\n\x0b\x1c")
    + ["MRN", "Street", "St", "Ave", "dob", "Born", "Jane", "Doe", "DOE", "O'Neil", "E11", "19", "20", "555"]
    + ["EXT-", "A", "Z", "x", "\u2019"]
)


@pytest.mark.parametrize("seed", range(40))
def test_seeded_random_text(seed):
    rng = random.Random(seed)
    pieces = PIECES + (["\u0663", "\u00e9", "\u00a0"] if seed % 4 == 0 else [])
    for _ in range(10):
        assert_same("".join(rng.choice(pieces) for _ in range(rng.randint(200, 3000))))


def test_a_clean_block_opens_no_gate_and_other_scripts_open_all():
    assert open_gates("The quarterly report of the facilities committee.\n") == frozenset()
    assert open_gates("Caf\u00e9 menu\n") == ALL_GATES


def test_a_time_or_count_before_a_capitalised_word_does_not_open_the_address_gate():
    """Equipment logs and rosters: every line has a number before a capitalised
    word; the address detector (a full `re` pass) now runs only where a
    street word follows (ADR 1645)."""
    log = "2026-02-01 08:41 Pipette set S/N 224428 checked by A. Quist, 2 Nurses on Ward 3\n"
    assert "address" not in open_gates(log)
    assert "address" in open_gates(log + "Sent to 12 Main St. by courier\n")
    assert "address" in open_gates("Lives at 12\nOld Mill\tWay\n")


def test_streamed_blocks_match_one_block(tmp_path):
    rows = bench_rows(3000, seed=3)
    path = write_csv(tmp_path / "b.csv", HEADER, rows)
    whole = ReferenceTally()
    whole.feed(path.read_text())
    streamed = TextTally()
    read_into(io.BytesIO(path.read_bytes()), "b.csv", streamed, Budget(Limits(block_bytes=4096)))
    assert streamed.counts == whole.counts
    assert streamed.candidates == whole.candidates

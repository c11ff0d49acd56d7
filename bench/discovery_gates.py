"""The PHI detectors alone against `grep -E` of the SSN pattern, before and
after the RE2 gates (ADR 1640), on three kinds of text: the throughput
benchmark's all-PHI rows, Synthea's FHIR bundles (dates everywhere, few
other identifiers) and clean prose (the repository's own docs). No database.

    PYTHONPATH=. .venv/bin/python bench/discovery_gates.py [--rows 100000]

CPU seconds (`process_time`, grep's from `getrusage` of its child), best of
three: the machine is shared and wall times swing.
"""

from __future__ import annotations

import argparse
import functools
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from safeward.assets.discovery.detectors import TextTally  # noqa: E402
from tests.assets.discovery_reference import ReferenceTally  # noqa: E402

SSN_PATTERN = "[0-9]{3}-[0-9]{2}-[0-9]{4}"
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea" / "synthea-r4-100.tar.gz"
BLOCK = 1 << 20


def bench_rows(path: Path, count: int) -> None:
    rng = random.Random(7)
    first = ["Ada", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jun"]
    last = ["Quist", "Roe", "Stone", "Tran", "Underwood", "Vale", "Wu", "Xu", "Young", "Zed"]
    with path.open("w") as handle:
        for _ in range(count):
            handle.write(
                f"EXT-{rng.randint(0, 9_999_999):07d},{rng.choice(first)} {rng.choice(last)},"
                f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
                f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d},"
                f"+1 555 {rng.randint(200, 999)} {rng.randint(1000, 9999)},"
                f"{rng.choice(['E11.9', 'I10', 'J45.909', 'Z00.00'])},{rng.randint(1, 999)} Main Street\n"
            )


def blocks(text: str) -> list[str]:
    """1 MiB blocks ending at a line break, as `formats.read_text` feeds them."""
    out, start = [], 0
    while start < len(text):
        cut = text.rfind("\n", start, start + BLOCK)
        end = len(text) if start + BLOCK >= len(text) or cut < 0 else cut + 1
        out.append(text[start:end])
        start = end
    return out


def best_cpu(function: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        started = time.process_time()
        function()
        times.append(time.process_time() - started)
    return min(times)


def grep_cpu(path: Path) -> float:
    times = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["grep", "-E", "-c", SSN_PATTERN, str(path)], capture_output=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return max(min(times), 1e-3)


def feed_all(tally_class: type, parts: list[str]) -> object:
    tally = tally_class()
    for part in parts:
        tally.feed(part)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the all-PHI CSV")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="safeward-gates-") as folder:
        work = Path(folder)
        corpora: dict[str, Path] = {"all-PHI CSV rows": work / "rows.csv"}
        bench_rows(corpora["all-PHI CSV rows"], args.rows)
        if SYNTHEA.exists():
            with tarfile.open(SYNTHEA) as archive:
                archive.extractall(work / "synthea", filter="data")
            bundles = sorted((work / "synthea").rglob("*.json"))
            corpora["Synthea FHIR bundles"] = work / "synthea.json"
            corpora["Synthea FHIR bundles"].write_text("\n".join(p.read_text() for p in bundles))
        corpora["clean prose (docs/)"] = work / "prose.txt"
        corpora["clean prose (docs/)"].write_text(
            "\n".join(p.read_text() for p in sorted((ROOT / "docs").rglob("*.md"))) * 3
        )
        print("corpus | MB | grep -E | before | after | before / grep | after / grep | speed-up")
        for label, path in corpora.items():
            text = path.read_text()
            parts = blocks(text)
            old, new = feed_all(ReferenceTally, parts), feed_all(TextTally, parts)
            assert (old.counts, old.candidates) == (new.counts, new.candidates), label  # type: ignore[attr-defined]
            grep = grep_cpu(path)
            before = best_cpu(functools.partial(feed_all, ReferenceTally, parts))
            after = best_cpu(functools.partial(feed_all, TextTally, parts))
            print(
                f"{label} | {len(text.encode()) / 1e6:.1f} | {grep:.3f} s | {before:.2f} s | {after:.2f} s | "
                f"{before / grep:.0f}x | {after / grep:.0f}x | {before / after:.1f}x"
            )


if __name__ == "__main__":
    main()

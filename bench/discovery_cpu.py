"""PHI discovery scanner cost in CPU seconds (issue 13, ADR 0812).

Wall times on a shared, loaded machine swing by several times between runs;
CPU seconds (this process and its children, `getrusage`) compare a before
and an after fairly. Builds `discovery_throughput.py`'s 26 MB corpus, loads
N patients' blind indexes, then times `grep -E` of the SSN pattern, the
engine alone in one process, and `scan_run` (one worker process unless
WORKERS is set), all over the same files.

    PYTHONPATH=CODE .venv/bin/python bench/discovery_cpu.py CODE LABEL PATIENTS

CODE is the checkout to measure (its bench/ is used for the corpus and the
loader), so the same script measures main and a branch.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cpu() -> float:
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    code, label, patients = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    sys.path.insert(0, str(code / "bench"))
    from _setup import configure

    work = Path(tempfile.mkdtemp(prefix="safeward-discovery-cpu-"))
    try:
        configure(work / "var")
        import discovery_throughput as bench

        mrns = bench.load_patients(patients)
        corpus = work / "share"
        total = sum(bench.build_corpus(corpus, 26, mrns).values())
        subprocess.run(["cat", *map(str, corpus.iterdir())], stdout=subprocess.DEVNULL, check=True)

        def measure(function):  # type: ignore[no-untyped-def]
            started_cpu, started = cpu(), time.perf_counter()
            result = function()
            return cpu() - started_cpu, time.perf_counter() - started, result

        grep = measure(
            lambda: subprocess.run(
                ["grep", "-E", "-r", "-c", bench.SSN_PATTERN, str(corpus)], capture_output=True, check=False
            )
        )
        from safeward.assets.discovery.engine import Scanner, plan
        from safeward.assets.discovery_services import scan_run, scanner_from_settings

        engine = measure(lambda: sum(1 for e in plan([str(corpus)]) if Scanner().scan_entry(e).status))
        options = {}
        with contextlib.suppress(TypeError):  # a checkout whose scanner has no workers
            options["scanner"] = scanner_from_settings(workers=int(os.environ.get("WORKERS", "1")))
        full = measure(
            lambda: (
                scan_run(actor=None, roots=[str(corpus)], trigger="command", **options).scan.patients_matched
            )
        )
        print(f"{label}: corpus {total / 1e6:.0f} MB, {patients:,} patients, matched {full[2]}")
        for name, (spent, wall, _) in (("grep", grep), ("engine 1 process", engine), ("full scan", full)):
            print(f"  {name:18} cpu {spent:7.2f} s  wall {wall:7.2f} s")
        print(
            f"  full/grep cpu {full[0] / max(grep[0], 1e-3):.0f}x wall {full[1] / grep[1]:.0f}x; "
            f"engine/grep cpu {engine[0] / max(grep[0], 1e-3):.0f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

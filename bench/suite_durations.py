"""Where a test directory's time goes: setup, call and teardown summed over
its tests, and the slowest tests. Runs pytest in a subprocess (one process,
like `./run test`) with --durations=0 and reads the report.

    .venv/bin/python bench/suite_durations.py tests/demo tests/web
    SAFEWARD_DATABASE_URL=postgres://... .venv/bin/python bench/suite_durations.py tests/demo

The numbers go in bench/README.md ("Test suite time") with the load average
(`uptime`): the machine is shared, so compare runs made back to back.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S+)$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="test directories or files")
    parser.add_argument("--top", type=int, default=15, help="slowest phases to list")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "pytest", *args.paths, "-q", "-p", "no:cacheprovider", "--durations=0"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    totals: dict[str, float] = defaultdict(float)
    phases: list[tuple[float, str, str]] = []
    for line in result.stdout.splitlines():
        match = LINE.match(line.strip())
        if match:
            seconds, phase, test = float(match[1]), match[2], match[3]
            totals[phase] += seconds
            phases.append((seconds, phase, test))
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "(no output)"
    print(f"{' '.join(args.paths)}: {wall:.0f} s wall, {summary}")
    print("  " + ", ".join(f"{phase} {totals[phase]:.0f} s" for phase in ("setup", "call", "teardown")))
    for seconds, phase, test in sorted(phases, reverse=True)[: args.top]:
        print(f"  {seconds:7.2f} s {phase:8} {test}")
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    print(f"  load average at the end: {' '.join(load)}")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()

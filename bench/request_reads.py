"""The fixed reads every signed-in request pays before its view runs (the
session guard, the workforce state, the roles, the acknowledgement gate,
Django's session and user), on the demo hospital's seed (ADR 0309).

Two signed-in requests through the full middleware stack with Django's test
client: the physician's REST chart of a patient on their care team, and the
physician's dashboard (a page). First each request's statements are listed,
with the SafeWard function that sent each one and whether it went through
the prepared cursor (`--list`); then the requests are repeated, alternating,
and each statement's time in `execute` (its wait for the database; the
ORM's compiling is outside) is summed per origin in each request, and the
median over the requests printed per origin.

    .venv/bin/python bench/request_reads.py [--requests 300] [--rounds 3] [--list]
    .venv/bin/python bench/request_reads.py --var DIR --seed-only      # seed once
    .venv/bin/python bench/request_reads.py --var DIR --against TREE --runs 2

With --against, whole runs alternate (separate processes) between TREE's
code (a `git archive` of main, say) and this tree's, on one seeded var
folder (SQLite: copied fresh for each run). Embedded SQLite unless
SAFEWARD_DATABASE_URL points at PostgreSQL; then --var is still needed for
the demo credentials and the database is seeded once and reused (the
requests only move `last_seen_at` and add audit events).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _tree_first() -> None:
    """Under --against, import safeward from that tree rather than this one."""
    tree = os.environ.get("REQUEST_READS_TREE")
    if tree:
        sys.path.insert(0, tree)
        sys.path.insert(1, str(HERE.parent))


_tree_first()
from _setup import against_tree, configure, machine  # noqa: E402

# The functions a per-request read is named after (innermost first wins).
_ORIGINS = (
    "safeward/policies/gate.py:_compute",
    "safeward/policies/gate.py:filter_permissions",
    "safeward/workforce/policy.py:workforce_state",
    "safeward/identity/selectors.py:_load_roles",
    "safeward/identity/middleware.py:_check",
    "safeward/identity/selectors.py:user_has_second_factor",
    "safeward/identity/selectors.py:user_credential_refusal",
    "django/contrib/sessions/backends/db.py:load",
    "django/contrib/sessions/backends/db.py:save",
    "django/contrib/auth/__init__.py:get_user",
)


def _origin() -> str:
    """The per-request read that sent the statement being executed, else
    the innermost SafeWard function (the view's own reads)."""
    frames = traceback.extract_stack()
    for frame in reversed(frames):
        for origin in _ORIGINS:
            path, name = origin.split(":")
            if frame.filename.endswith(path) and frame.name == name:
                return origin.replace("safeward/", "").replace("django/contrib/", "django:")
    for frame in reversed(frames):
        if "/safeward/" in frame.filename and not frame.filename.endswith(("prepared.py", "one_door.py")):
            return "view: " + frame.filename.split("/safeward/")[-1] + ":" + frame.name
    return "other"


def _client_for(username: str) -> Any:
    from django.test import Client
    from middleware import _signed_in_cookie

    from safeward.identity.models import User

    client = Client()
    client.cookies.load(_signed_in_cookie(User.objects.get(username=username)))
    return client


def _cases() -> list[tuple[str, Any, str]]:
    from safeward.clinical.models import CareTeamMembership
    from safeward.identity.models import User

    physician = User.objects.get(username="demo.physician")
    membership = CareTeamMembership.objects.filter(user=physician).order_by("patient_id").first()
    if membership is None:
        raise SystemExit("the demo physician is on no care team")
    client = _client_for("demo.physician")
    return [
        ("REST chart", client, f"/api/v1/clinical/patients/{membership.patient_id}/chart/"),
        ("dashboard", client, "/"),
    ]


class Recorder:
    """An execute wrapper: each statement's origin and time in `execute`."""

    def __init__(self, *, origins: bool) -> None:
        self.origins = origins
        self.statements: list[tuple[str, float, str, bool]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        origin = _origin() if self.origins else ""
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            prepared = type(context["cursor"].cursor).__name__ == "_Preparing"
            self.statements.append((origin, elapsed, sql, prepared))


def _one(client: Any, path: str, recorder: Recorder) -> tuple[float, int]:
    from django.db import connection

    with connection.execute_wrapper(recorder):
        start = time.perf_counter()
        response = client.get(path, secure=True, HTTP_ACCEPT="application/json")
        elapsed = time.perf_counter() - start
    return elapsed, response.status_code


def list_statements(cases: list[tuple[str, Any, str]]) -> None:
    for label, client, path in cases:
        _one(client, path, Recorder(origins=False))  # warm
        recorder = Recorder(origins=True)
        _, status = _one(client, path, recorder)
        print(f"{label} ({status}): {len(recorder.statements)} statements")
        for origin, elapsed, sql, prepared in recorder.statements:
            mark = "P" if prepared else " "
            print(f"  {mark} {elapsed * 1000:6.3f} ms  {origin:48} {' '.join(sql.split())[:110]}")


def measure(cases: list[tuple[str, Any, str]], requests: int, rounds: int) -> None:
    # Statement origins found once per distinct text (the stack walk is not timed).
    origin_of: dict[str, str] = {}
    for _, client, path in cases:
        recorder = Recorder(origins=True)
        _one(client, path, recorder)
        _one(client, path, recorder)
        origin_of.update({sql: origin for origin, _, sql, _ in recorder.statements})
    totals: dict[str, list[float]] = defaultdict(list)
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    counts: dict[str, list[int]] = defaultdict(list)
    for _ in range(rounds):
        for _ in range(requests):
            for label, client, path in cases:
                recorder = Recorder(origins=False)
                elapsed, status = _one(client, path, recorder)
                if status != 200:
                    raise SystemExit(f"{label}: {path} answered {status}")
                totals[label].append(elapsed)
                counts[label].append(len(recorder.statements))
                per: dict[str, float] = defaultdict(float)
                for _, wait, sql, _ in recorder.statements:
                    per[origin_of.get(sql, "other")] += wait
                for origin, wait in per.items():
                    waits[(label, origin)].append(wait)
    n = requests * rounds
    for label, _, _ in cases:
        print(
            f"  {label}: median {statistics.median(totals[label]) * 1000:.2f} ms a request, "
            f"{statistics.median_low(counts[label])} statements"
        )
        rows = sorted(((o, w) for (lab, o), w in waits.items() if lab == label), key=lambda r: r[0])
        fixed = 0.0
        for origin, values in rows:
            # Median over the requests that sent it (the machine is shared:
            # a mean follows the other processes' bursts); mean beside it.
            median, mean = statistics.median(values), sum(values) / n
            if not origin.startswith(("view:", "other")):
                fixed += median
            print(
                f"    {origin:52} {median * 1000:6.3f} ms  (mean {mean * 1000:6.3f})  x{len(values) / n:.2f}"
            )
        print(f"    {'per-request reads, together (medians)':52} {fixed * 1000:6.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per case per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--var", type=Path, help="a var folder: seeded if new, reused if seeded")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--list", action="store_true", help="list each request's statements")
    parser.add_argument("--against", type=Path, help="another tree's root (the before code)")
    parser.add_argument("--runs", type=int, default=2, help="with --against: runs per tree")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    os.environ["SAFEWARD_DEMO"] = "1"
    if args.against:
        var = args.var or Path(tempfile.mkdtemp(prefix="safeward-reads-seed-"))
        if not (var / "demo-credentials.json").exists():
            subprocess.run([sys.executable, __file__, "--var", str(var), "--seed-only"], check=True)
        argv = ["--requests", str(args.requests), "--rounds", str(args.rounds)]
        against_tree(
            __file__,
            "REQUEST_READS_TREE",
            var,
            args.against.resolve(),
            args.runs,
            argv,
            copy_var="SAFEWARD_DATABASE_URL" not in os.environ,
        )
        return
    seeded = args.var is not None and (args.var / "demo-credentials.json").exists()
    var_dir = configure(args.var)
    if not seeded:
        from safeward.demo.seed import seed_demo

        seed_demo()
    if args.seed_only:
        print(f"seeded: {var_dir}")
        return
    cases = _cases()
    if args.list:
        list_statements(cases)
        return
    if not args.quiet:
        print(f"machine:  {machine()}")
    from django.db import connection

    print(f"  {connection.vendor}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    measure(cases, args.requests, args.rounds)


if __name__ == "__main__":
    main()

"""What a signed-in HTML page pays for its context processors and the base
template (navigation, banners, MFA state), on the demo hospital's seed.

Each page is requested through the full middleware stack with Django's test
client, alternating request by request between

* full: the page as served;
* bare: the same request, view and templates with SafeWard's context
  processors switched off (Django's own - request, CSP, auth, messages -
  stay: templates need `user`), so base.html renders no navigation, no
  banners and no account menu.

full - bare is the per-page overhead; full / bare the ratio. Queries are
counted per request for both. The pages: the physician's and the nurse's
dashboards, a 404 for the signed-in physician, and the nurse's ward census
(a clinical list).

    .venv/bin/python bench/page_overhead.py [--requests 200] [--rounds 3]
    .venv/bin/python bench/page_overhead.py --profile        # pyinstrument, full pages
    .venv/bin/python bench/page_overhead.py --seed-only --var DIR     # seed once
    .venv/bin/python bench/page_overhead.py --var DIR --against TREE --runs 2

With --against, the script alternates whole runs (separate processes, one
after the other) between TREE's code (a `git archive` copy of main, say) and
this tree's, on one seeded var folder copied fresh for each run, and prints
each run's table: before/after in the same session, at the same load.
Embedded SQLite unless SAFEWARD_DATABASE_URL points at PostgreSQL (then
--against needs its own database per run: use SQLite).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _tree_first() -> None:
    """Under --tree, import safeward from that tree rather than this one."""
    tree = os.environ.get("PAGE_OVERHEAD_TREE")
    if tree:
        sys.path.insert(0, tree)
        sys.path.insert(1, str(HERE.parent))  # _setup then finds ROOT present and leaves the order


_tree_first()
from _setup import against_tree, configure, machine  # noqa: E402


def _seed() -> None:
    from safeward.demo.seed import seed_demo

    seed_demo()


def _pages() -> list[tuple[str, str, str]]:
    """(label, username, path) for each measured page."""
    from django.db import connection

    with connection.cursor() as cursor:  # bench set-up reads the ward id directly
        cursor.execute("SELECT id FROM clinical_ward ORDER BY code LIMIT 1")
        row = cursor.fetchone()
    ward = row[0] if isinstance(row[0], str) else str(row[0])
    if len(ward) == 32:  # SQLite keeps UUIDs as hex
        ward = f"{ward[:8]}-{ward[8:12]}-{ward[12:16]}-{ward[16:20]}-{ward[20:]}"
    return [
        ("physician dashboard", "demo.physician", "/"),
        ("nurse dashboard", "demo.nurse", "/"),
        ("404, physician", "demo.physician", "/no-such-page/"),
        ("ward census, nurse", "demo.nurse", f"/clinical/wards/{ward}/"),
    ]


def _clients(pages: list[tuple[str, str, str]]) -> dict[str, Any]:
    from django.test import Client
    from middleware import _signed_in_cookie

    from safeward.identity.models import User
    from safeward.policies.gate import gate_state
    from safeward.policies.middleware import DEFERRED

    clients = {}
    for _, username, _ in pages:
        if username not in clients:
            user = User.objects.get(username=username)
            client = Client()
            client.cookies.load(_signed_in_cookie(user))
            # The demo nurse has policies to acknowledge: "continue for now",
            # as on the interstitial; the banner stays.
            session = client.session
            session[DEFERRED] = [p.revision_id for p in gate_state(user).pending]
            session.save()
            clients[username] = client
    return clients


class Processors:
    """Switches SafeWard's context processors off and on again without
    rebuilding the engine (its compiled templates stay cached)."""

    def __init__(self) -> None:
        from django.template import engines

        self.engine = engines["django"].engine  # type: ignore[attr-defined]
        self.full = self.engine.template_context_processors
        self.bare = tuple(p for p in self.full if not p.__module__.startswith("safeward."))

    def set(self, on: bool) -> None:
        self.engine.__dict__["template_context_processors"] = self.full if on else self.bare


def _request(client: Any, path: str) -> tuple[float, int, int]:
    """One GET: seconds, status, statements (counted by an execute wrapper,
    which unlike the debug cursor adds next to nothing to the timing)."""
    from django.db import connection

    count = 0

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        start = time.perf_counter()
        response = client.get(path, secure=True)
        elapsed = time.perf_counter() - start
    return elapsed, response.status_code, count


def measure(requests: int, rounds: int) -> list[dict[str, Any]]:
    pages = _pages()
    clients = _clients(pages)
    processors = Processors()
    expected = {"404, physician": 404}
    results = []
    for label, username, path in pages:
        client = clients[username]
        times: dict[str, list[float]] = {"full": [], "bare": []}
        queries: dict[str, list[int]] = {"full": [], "bare": []}
        for on in (True, False, True, False):  # warm both up, check the status
            processors.set(on)
            _, status, _ = _request(client, path)
            if status != expected.get(label, 200):
                raise SystemExit(f"{label}: {path} answered {status}")
        for _ in range(rounds):
            for _ in range(requests):
                for name, on in (("full", True), ("bare", False)):
                    processors.set(on)
                    elapsed, _, count = _request(client, path)
                    times[name].append(elapsed)
                    queries[name].append(count)
        processors.set(True)
        full, bare = statistics.median(times["full"]), statistics.median(times["bare"])
        results.append(
            {
                "page": label,
                "full_ms": full * 1000,
                "bare_ms": bare * 1000,
                "overhead_ms": (full - bare) * 1000,
                "ratio": full / bare,
                # The usual count (a request that also saves the session or
                # last_seen makes one or two more).
                "full_queries": statistics.median_low(queries["full"]),
                "bare_queries": statistics.median_low(queries["bare"]),
            }
        )
    return results


def profile(requests: int) -> None:
    from pyinstrument import Profiler

    pages = _pages()
    clients = _clients(pages)
    for _, username, path in pages:
        clients[username].get(path, secure=True)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(requests):
        for _, username, path in pages:
            clients[username].get(path, secure=True)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def _print(results: list[dict[str, Any]], label: str) -> None:
    print(f"{label}")
    print(f"  {'page':22} {'full ms':>8} {'bare ms':>8} {'overhead':>9} {'ratio':>6}  queries full/bare")
    for r in results:
        print(
            f"  {r['page']:22} {r['full_ms']:8.2f} {r['bare_ms']:8.2f} {r['overhead_ms']:8.2f}  "
            f"{r['ratio']:6.2f}  {r['full_queries']}/{r['bare_queries']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per path per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--var", type=Path, help="a var folder: seeded if new, reused if seeded")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--profile", action="store_true", help="pyinstrument over the full pages")
    parser.add_argument("--against", type=Path, help="another tree's root (the before code)")
    parser.add_argument("--runs", type=int, default=2, help="with --against: runs per tree")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    os.environ["SAFEWARD_DEMO"] = "1"
    if args.against:
        var = args.var or Path(tempfile.mkdtemp(prefix="safeward-page-seed-"))
        if not (var / "demo-credentials.json").exists():
            subprocess.run([sys.executable, __file__, "--var", str(var), "--seed-only"], check=True)
        argv = ["--requests", str(args.requests), "--rounds", str(args.rounds)]
        against_tree(
            __file__, "PAGE_OVERHEAD_TREE", var, args.against.resolve(), args.runs, argv, copy_var=True
        )
        return
    seeded = args.var is not None and (args.var / "demo-credentials.json").exists()
    var_dir = configure(args.var)
    if not seeded:
        _seed()
    if args.seed_only:
        print(f"seeded: {var_dir}")
        return
    if args.profile:
        profile(args.requests)
        return
    results = measure(args.requests, args.rounds)
    if not args.quiet:
        print(f"machine:  {machine()}")
        print(f"load:     {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    _print(results, f"  {args.rounds} x {args.requests} requests per page and path, alternating")


if __name__ == "__main__":
    main()

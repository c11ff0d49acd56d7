"""Opening a patient chart: through the gateway (policy + decryption + audit)
against the same queries on unencrypted copies of the rows without audit,
under `wrk` on loopback against gunicorn with the production settings.

    .venv/bin/python bench/clinical_chart.py --patients 100000 --duration 10 --rounds 3
    .venv/bin/python bench/clinical_chart.py --reuse --profile   # where the gateway's time goes
    .venv/bin/python bench/clinical_chart.py --reuse --cpu 150   # CPU per request, in-process

Creates the database bench_clinical on 127.0.0.1:5432 (user postgres), loads
the patients with `safeward demo scale`, puts a bench physician on the care
team of --charts charted patients (one note each, through the gateway), and
copies those patients' rows decrypted into bench_plain_* tables (every other
row is copied too, with NULL in the formerly encrypted columns, so that the
tables have the same size). Two gunicorns (SAFEWARD_ENV=production, one
worker x 4 threads each, settings `clinical_bench_settings`) serve every path,
each driven by its own wrk with half the connections: with one gunicorn of two
workers, the workers share a listening socket, wrk's keep-alive connections
were accepted unevenly, and a round whose connections landed mostly on one
worker ran on one interpreter (bench/README.md, stop 33). Throughputs add up;
the latency percentiles come from the two runs' distributions merged
(percentiles every 0.1 %, weighted by requests).

* gateway: GET /api/v1/clinical/patients/<id>/chart/ (the product's API)
* direct:  GET /bench/direct-chart/<id>/ (bench-only URLconf; DRF view, same
  middleware, authentication and permission declaration; raw SQL, rows as
  dicts)
* direct-orm: GET /bench/direct-orm-chart/<id>/ (the same, but the same query
  layer as the gateway: its chart querysets through the Django ORM on
  unmanaged models over the plain tables, its view dataclasses and its
  output serializer, and the gateway's probe of which sections hold rows,
  so that it skips the same empty sections; the difference to the gateway
  is the security cost)

No TLS: wrk talks plain HTTP and sends X-Forwarded-Proto from a trusted
proxy address (127.0.0.1), as behind a TLS-terminating proxy; TLS would
cost both paths the same. Rounds alternate between the paths; the database
is dropped at the end unless --keep (a --reuse run never drops it).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_clinical"
BENCH_USER = "bench.physician"
PATHS = {
    "gateway": "/api/v1/clinical/patients/{}/chart/",
    "direct": "/bench/direct-chart/{}/",
    "direct-orm": "/bench/direct-orm-chart/{}/",
}
PLAIN_MODELS = (
    "Patient",
    "Encounter",
    "ClinicalNote",
    "Condition",
    "MedicationRequest",
    "AllergyIntolerance",
    "Observation",
    "Appointment",
    "Document",
    "CareTeamMembership",
)


def prepare(charts: int) -> list[str]:
    """The bench physician on the care team of `charts` charted patients; returns their ids."""
    from _setup import make_user

    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.clinical.types import SessionContext, SystemActor
    from safeward.demo import scale
    from safeward.identity.models import NetworkZone

    NetworkZone.objects.get_or_create(
        name="bench-ward", defaults={"cidrs": ["127.0.0.0/8"], "clinical": True}
    )
    user, _ = make_user(BENCH_USER, role="physician")
    from safeward.identity.models import RoleAssignment

    RoleAssignment.objects.filter(user=user).update(status="active")
    system, actor = SessionContext.system(), SystemActor("bench")
    searcher = make_user("bench.clerk", role="registration_clerk")[0]
    RoleAssignment.objects.filter(user=searcher).update(status="active")
    ids = []
    for number in range(scale.CHART_EVERY, scale.CHART_EVERY * (charts + 1), scale.CHART_EVERY):
        page = gateway.patient_search(
            actor=searcher, session=system, purpose=PurposeOfUse.OPERATIONS, mrn=scale.mrn(number)
        )
        patient_id = page.results[0].id
        common = {
            "actor": actor,
            "session": system,
            "purpose": PurposeOfUse.OPERATIONS,
            "patient_id": patient_id,
        }
        gateway.care_team_add(**common, user_id=user.pk, role="attending physician")
        gateway.note_create(**common, title="Clinic review", text="Stable; continue the current plan.")
        ids.append(patient_id)
    return ids


def plain_copies(patient_ids: list[str]) -> None:
    """bench_plain_<model>: every row, the encrypted columns as text, filled
    (decrypted) for the benchmarked patients only. Bench tooling, not the
    product: it reads the models directly to build the unencrypted baseline."""
    from django.apps import apps
    from django.db import connection

    from safeward.crypto.fields import (
        BlindIndexField,
        BlindPrefixField,
        EncryptedDateTimeField,
        EncryptedField,
        PlainYearField,
        decrypt_field,
    )

    def sql_type(field: EncryptedField) -> str:  # service times stay times in the baseline
        return "timestamptz" if isinstance(field, EncryptedDateTimeField) else "text"

    def copied(field: EncryptedField, value: object) -> object:
        if value is None or isinstance(field, EncryptedDateTimeField):
            return value
        return json.dumps(value, default=str).strip('"')

    with connection.cursor() as cursor:
        for name in PLAIN_MODELS:
            model = apps.get_model("clinical", name)
            table = f"bench_plain_{model._meta.model_name}"
            plain, encrypted = [], []
            for field in model._meta.concrete_fields:
                if isinstance(field, EncryptedField):
                    encrypted.append(field)
                elif not isinstance(field, BlindIndexField | BlindPrefixField | PlainYearField):
                    plain.append(field.column)
            columns = ", ".join([*plain, *(f"NULL::{sql_type(f)} AS {f.column}" for f in encrypted)])
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} AS SELECT {columns} FROM {model._meta.db_table}")  # noqa: S608 - names from model metadata
            cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
            if name != "Patient":
                cursor.execute(f"CREATE INDEX {table}_patient ON {table} (patient_id)")
            key = "pk" if name == "Patient" else "patient_id"
            for row in model.objects.filter(**{f"{key}__in": patient_ids}):
                values = [copied(field, decrypt_field(row, field.name)) for field in encrypted]
                if encrypted:
                    sets = ", ".join(f"{f.column} = %s" for f in encrypted)
                    cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*values, row.pk])  # noqa: S608 - as above
            cursor.execute(f"ANALYZE {table}")


def signed_in_cookie() -> str:
    from django.test import Client

    from safeward.identity import services
    from safeward.identity.middleware import SESSION_ID_KEY
    from safeward.identity.models import User

    user = User.objects.get(username=BENCH_USER)
    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    user_session = services.session_start(
        user=user,
        session_key=session.session_key or "",
        client_ip="127.0.0.1",
        network_zone="bench-ward",
        user_agent="bench",
        mfa_at_now=True,
    )
    session[SESSION_ID_KEY] = str(user_session.pk)
    session.save()
    return f"__Host-safeward_session={session.session_key}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def patients_in() -> int:
    """The patients the database holds (a --reuse run's may differ from --patients)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM clinical_patient")
        (count,) = cursor.fetchone()
    return int(count)


def start_gunicorn(port: int, var_dir: Path) -> subprocess.Popen[bytes]:
    """One worker of four threads: the bench runs two of these, one per core."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinical_bench_settings",
            "PYTHONPATH": os.pathsep.join([str(cc.ROOT / "bench"), str(cc.ROOT)]),
            "SAFEWARD_ENV": "production",
            "SAFEWARD_ALLOWED_HOSTS": "127.0.0.1",
            "SAFEWARD_TRUSTED_PROXIES": "127.0.0.1/32",
            "SAFEWARD_KEY_PROVIDER": "file",
            "SAFEWARD_VAR_DIR": str(var_dir),
            "SAFEWARD_LOG_LEVEL": "WARNING",
        }
    )
    argv = [sys.executable, "-m", "gunicorn", "safeward.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    argv += ["--worker-class", "gthread", "--workers", "1", "--threads", "4", "--keep-alive", "5"]
    argv += ["--error-logfile", str(var_dir / f"gunicorn-{port}.log")]
    return subprocess.Popen(argv, env=env, cwd=cc.ROOT, start_new_session=True)


HEADERS = {"X-Forwarded-Proto": "https"}


def fetch(port: int, path: str, cookie: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={**HEADERS, "Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback bench URL
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_up(port: int, cookie: str, server: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            status, body = fetch(port, path, cookie)
        except OSError:
            time.sleep(0.3)
            continue
        if status != 200:
            raise SystemExit(f"{path} answered {status}: {body[:300]!r}")
        return
    raise SystemExit("gunicorn did not come up")


def same_shape(port: int, cookie: str, patient_id: str) -> None:
    """The ORM baseline must disclose what the gateway discloses to the bench
    physician: the same sections, the same item counts, the same values."""
    bodies = {}
    for name in ("gateway", "direct-orm"):
        status, body = fetch(port, PATHS[name].format(patient_id), cookie)
        assert status == 200, (name, status)
        bodies[name] = json.loads(body)
    gateway, direct = bodies["gateway"], bodies["direct-orm"]
    for key, value in gateway.items():
        if isinstance(value, list) and key != "sections":
            assert len(value) == len(direct[key] or []), f"{key}: {len(value)} vs {len(direct[key] or [])}"
    assert gateway["notes"] == direct["notes"], "notes differ between the paths"
    assert gateway["results"] == direct["results"], "results differ between the paths"


def lua_script(path_template: str, ids: list[str], folder: Path) -> Path:
    script = folder / f"chart-{path_template.strip('/').replace('/', '-')[:40]}.lua"
    listed = ", ".join(f'"{path_template.format(i)}"' for i in ids)
    script.write_text(
        f"local paths = {{{listed}}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n  return wrk.format('GET', paths[(n % #paths) + 1])\nend\n"
        # Percentiles every 0.1 % and the request count, so that two runs' latencies can be merged.
        "done = function(summary, latency, requests)\n"
        "  io.write(string.format('requests %d\\n', summary.requests))\n"
        "  for i = 1, 1000 do\n"
        "    io.write(string.format('q %d\\n', latency:percentile(i / 10)))\n"
        "  end\n"
        "end\n"
    )
    return script


def wrk_argv(port: int, cookie: str, script: Path, duration: int, connections: int) -> list[str]:
    argv = ["wrk", "--latency", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "-s", str(script)]
    argv += ["--timeout", "30s"]  # wrk's default (2 s) drops slower answers from the latencies
    argv += ["-H", f"Cookie: {cookie}", "-H", "X-Forwarded-Proto: https", f"http://127.0.0.1:{port}"]
    return argv


def merged_percentile(runs: list[tuple[int, list[float]]], fraction: float) -> float:
    """The latency below which `fraction` of all the runs' requests fell: each
    run is (requests, its 1000 percentiles); a value's share of a run is the
    share of that run's percentiles at or below it."""
    total = sum(requests for requests, _ in runs)
    for value in sorted({v for _, quantiles in runs for v in quantiles}):
        below = sum(
            requests * bisect.bisect_right(quantiles, value) / len(quantiles) for requests, quantiles in runs
        )
        if below >= fraction * total:
            return value
    return max(max(quantiles) for _, quantiles in runs)


def connections_each(connections: int, ports: list[int]) -> int:
    """Each gunicorn's wrk's share of the connections (at least one)."""
    return max(1, connections // len(ports))


def run_wrk(ports: list[int], cookie: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    """One wrk per gunicorn, at the same time, each with its share of the connections."""
    share = connections_each(connections, ports)
    procs = [
        subprocess.Popen(wrk_argv(port, cookie, script, duration, share), stdout=subprocess.PIPE, text=True)
        for port in ports
    ]
    rps = 0.0
    runs: list[tuple[int, list[float]]] = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode or "Non-2xx" in out or "requests " not in out:
            raise SystemExit(f"wrk saw non-2xx answers or none at all:\n{out}")
        rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        requests = int(re.search(r"^requests (\d+)$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
        quantiles = [int(v) / 1000 for v in re.findall(r"^q (\d+)$", out, re.MULTILINE)]  # µs -> ms
        runs.append((requests, sorted(quantiles)))
    return {"rps": rps, "p50": merged_percentile(runs, 0.50), "p99": merged_percentile(runs, 0.99)}


def profile(ids: list[str], requests: int) -> None:
    """In-process pyinstrument profile of the gateway chart API (development settings)."""
    from django.test import Client
    from pyinstrument import Profiler

    client = Client()
    client.cookies.load(signed_in_cookie())
    path = PATHS["gateway"].format(ids[0])
    response = client.get(path, secure=True)
    assert response.status_code == 200, response.status_code
    if os.environ.get("BENCH_CPROFILE"):  # flat view: which functions cost the most themselves
        import cProfile
        import pstats

        with cProfile.Profile() as flat:
            for n in range(requests):
                client.get(PATHS["gateway"].format(ids[n % len(ids)]), secure=True)
        pstats.Stats(flat).sort_stats("tottime").print_stats(25)
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for n in range(requests):
        client.get(PATHS["gateway"].format(ids[n % len(ids)]), secure=True)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


def cpu(ids: list[str], requests: int) -> None:
    """CPU and wall time per request, in-process (Django's test client, the
    bench URLconf, development settings): the three paths alternating per
    request over the charted patients; medians and their ratios."""
    from django.test import Client

    client = Client()
    client.cookies.load(signed_in_cookie())
    spent: dict[str, list[tuple[float, float]]] = {name: [] for name in PATHS}
    for n in range(requests + 10):
        for name, template in PATHS.items():
            cpu_start, wall_start = time.thread_time(), time.perf_counter()
            response = client.get(template.format(ids[n % len(ids)]), secure=True)
            spent_cpu, spent_wall = time.thread_time() - cpu_start, time.perf_counter() - wall_start
            assert response.status_code == 200, (name, response.status_code)
            if n >= 10:  # the first rounds warm the caches and the connection
                spent[name].append((spent_cpu * 1000, spent_wall * 1000))
    med = {n: [statistics.median(s[i] for s in v) for i in (0, 1)] for n, v in spent.items()}
    print(f"in-process, {requests} requests per path alternating, load {os.getloadavg()[0]:.1f}")
    for name, (c, w) in med.items():
        print(f"{name:<10} CPU {c:6.2f} ms   wall {w:6.2f} ms")
    g = med["gateway"]
    for baseline in ("direct", "direct-orm"):
        d = med[baseline]
        print(f"ratio gateway/{baseline}: CPU {g[0] / d[0]:.2f}x   wall {g[1] / d[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="loader processes")
    parser.add_argument("--charts", type=int, default=200, help="patients the load rotates over")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="profile the gateway path instead")
    parser.add_argument("--cpu", type=int, default=0, help="N in-process requests per path (no wrk)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--database", default=DB, help=f"the database to create and drop (default {DB})")
    args = parser.parse_args()
    if args.cpu:  # the bench URLconf, for the two baselines
        os.environ["DJANGO_SETTINGS_MODULE"] = "clinical_bench_settings"
    if shutil.which("wrk") is None and not (args.profile or args.cpu):
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    db = args.database
    created = cc.create_database(db, reuse=args.reuse)
    var_dir = Path(os.environ.get("BENCH_VAR_DIR") or tempfile.mkdtemp(prefix="safeward-bench-chart-"))
    servers: list[subprocess.Popen[bytes]] = []
    try:
        cc.configure(db, var_dir)
        from _setup import machine

        print(machine())
        ids_file = var_dir / "chart-ids.json"
        if created:
            rate = cc.load(db, args.patients, args.workers)
            print(f"loaded {args.patients} patients at {rate:.0f} patients/s ({args.workers} loaders)")
            ids = prepare(args.charts)
            plain_copies(ids)
            ids_file.write_text(json.dumps(ids))
            print(f"var dir (for --reuse): BENCH_VAR_DIR={var_dir}")
        ids = json.loads(ids_file.read_text())
        if args.profile:
            profile(ids, 300)
            return
        if args.cpu:
            cpu(ids, args.cpu)
            return
        cookie = signed_in_cookie()
        ports = [free_port(), free_port()]
        servers = [start_gunicorn(port, var_dir) for port in ports]
        for port, server in zip(ports, servers, strict=True):
            for template in PATHS.values():
                wait_up(port, cookie, server, template.format(ids[0]))
        same_shape(ports[0], cookie, ids[0])
        scripts = {name: lua_script(t, ids, var_dir) for name, t in PATHS.items()}
        for name in PATHS:  # warm-up (results not parsed: a slow first request may not finish)
            share = connections_each(args.connections, ports)
            warm = [wrk_argv(port, cookie, scripts[name], 3, share) for port in ports]
            for proc in [subprocess.Popen(argv, stdout=subprocess.DEVNULL) for argv in warm]:
                proc.wait()
        results: dict[str, list[dict[str, float]]] = {name: [] for name in PATHS}
        for _ in range(args.rounds):
            for name in PATHS:
                results[name].append(run_wrk(ports, cookie, scripts[name], args.duration, args.connections))
        print(
            f"{patients_in()} patients on PostgreSQL; {len(ids)} charts rotated; two gunicorns of one "
            f"gthread worker x 4 threads, production settings, plain HTTP; one wrk each (1 thread, "
            f"{connections_each(args.connections, ports)} connections), {args.rounds} x {args.duration} s "
            "alternating"
        )
        med = {
            n: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
            for n, rs in results.items()
        }
        for name, m in med.items():
            print(f"{name:<8} p50 {m['p50']:7.1f} ms   p99 {m['p99']:7.1f} ms   {m['rps']:7.1f} req/s")
        g = med["gateway"]
        for baseline in ("direct", "direct-orm"):
            d = med[baseline]
            print(
                f"ratio gateway/{baseline}: p50 {g['p50'] / d['p50']:.2f}x   "
                f"p99 {g['p99'] / d['p99']:.2f}x   throughput {d['rps'] / g['rps']:.2f}x"
            )
        for name, rs in results.items():
            rounds = "; ".join(f"{r['p50']:.1f}/{r['p99']:.1f} ms {r['rps']:.1f} rps" for r in rs)
            print(f"  rounds {name}: {rounds}")
    finally:
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, 15)
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if created and not args.keep:  # a --reuse run leaves the kept database, as the ward bench does
            cc.drop_database(db)


if __name__ == "__main__":
    main()

"""Requests per second for an authenticated page (the dashboard) with
SafeWard's full middleware stack against the same page with Django's default
middleware only, measured in the same run, under gunicorn over TLS on
loopback with `wrk` as the load generator (apt-get install -y wrk).

Both servers run the same code, database, session and configuration; only
MIDDLEWARE differs (the second server's settings module is written into the
temporary folder). Rounds alternate between the two so that background load
on the machine hits both alike.

    .venv/bin/python bench/middleware.py [--duration 10] [--rounds 3] [--connections 8]
    .venv/bin/python bench/middleware.py --profile    # where the time goes, full stack
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from _setup import ROOT, configure, machine, make_user

DJANGO_DEFAULT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Not Django's, but allauth refuses to start without it; it only binds the
    # request to allauth's context.
    "allauth.account.middleware.AccountMiddleware",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _signed_in_cookie(user: Any) -> str:
    """A session as the real login leaves it (second factor passed)."""
    from django.conf import settings
    from django.test import Client

    from safeward.identity import services
    from safeward.identity.middleware import SESSION_ID_KEY

    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    user_session = services.session_start(
        user=user,
        session_key=session.session_key or "",
        client_ip="127.0.0.1",
        network_zone="outside",
        user_agent="bench",
        mfa_at_now=True,
    )
    session[SESSION_ID_KEY] = str(user_session.pk)
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _start_gunicorn(
    port: int, settings_module: str, var_dir: Path, extra_path: Path
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": os.pathsep.join([str(extra_path), str(ROOT)]),
            "SAFEWARD_VAR_DIR": str(var_dir),
            "SAFEWARD_LOG_LEVEL": "WARNING",
        }
    )
    from safeward.demo.server import gunicorn_argv
    from safeward.demo.tls import ensure_certificate

    tls = ensure_certificate(var_dir / "tls")
    argv = gunicorn_argv(
        host="127.0.0.1", port=port, certfile=tls.certificate, keyfile=tls.key, workers=2, threads=4
    )
    argv[argv.index("--access-logfile") + 1] = "/dev/null"
    return subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True)


def _fetch(port: int, cookie: str) -> tuple[int, bytes]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(f"https://127.0.0.1:{port}/", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310 - fixed https URL
        return response.status, response.read()


def _wait(port: int, cookie: str, server: subprocess.Popen[bytes]) -> bytes:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            status, body = _fetch(port, cookie)
        except OSError:
            time.sleep(0.2)
            continue
        if status != 200:
            raise SystemExit(f"the page on port {port} answered {status}, not 200")
        return body
    raise SystemExit(f"gunicorn on port {port} did not come up")


def _wrk(port: int, cookie: str, duration: int, connections: int) -> tuple[float, str, str]:
    result = subprocess.run(
        [
            "wrk",
            "--latency",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "-H",
            f"Cookie: {cookie}",
            f"https://127.0.0.1:{port}/",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    out = result.stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw non-2xx answers:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p50, p99


def _profile(user: Any, requests: int) -> None:
    """In-process profile of the dashboard with the full stack (pyinstrument)."""
    from django.test import Client
    from pyinstrument import Profiler

    from safeward.identity.middleware import SESSION_ID_KEY

    client = Client()
    cookie = _signed_in_cookie(user)
    client.cookies.load(cookie)
    assert client.get("/", secure=True).status_code == 200
    assert SESSION_ID_KEY
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(requests):
        client.get("/", secure=True)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per stack, alternating")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="profile the full stack in-process instead")
    args = parser.parse_args()

    var_dir = configure()
    user, _ = make_user("bench.middleware")
    if args.profile:
        _profile(user, 300)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    settings_dir = var_dir / "bench_settings"
    settings_dir.mkdir()
    (settings_dir / "bench_default_middleware.py").write_text(
        f"from safeward.settings import *  # noqa: F403\n\nMIDDLEWARE = {DJANGO_DEFAULT_MIDDLEWARE!r}\n"
    )
    cookie = _signed_in_cookie(user)
    ports = {"full": _free_port(), "default": _free_port()}
    servers = {
        "full": _start_gunicorn(ports["full"], "safeward.settings", var_dir, settings_dir),
        "default": _start_gunicorn(ports["default"], "bench_default_middleware", var_dir, settings_dir),
    }
    try:
        bodies = {name: _wait(port, cookie, servers[name]) for name, port in ports.items()}
        for name, body in bodies.items():
            if b"Good to see you" not in body:
                raise SystemExit(f"the {name} stack did not render the signed-in dashboard")
        results: dict[str, list[tuple[float, str, str]]] = {"full": [], "default": []}
        for name in ports:  # warm both up
            _wrk(ports[name], cookie, 2, args.connections)
        for _ in range(args.rounds):
            for name, port in ports.items():
                results[name].append(_wrk(port, cookie, args.duration, args.connections))
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGTERM)
        for server in servers.values():
            server.wait(timeout=30)

    print(f"machine:  {machine()}")
    print(
        f"setup:    gunicorn gthread 2 workers x 4 threads, TLS, SQLite; wrk 1 thread, "
        f"{args.connections} connections, {args.rounds} x {args.duration}s per stack, alternating"
    )
    medians = {}
    for name, runs in results.items():
        rates = [run[0] for run in runs]
        medians[name] = statistics.median(rates)
        detail = ", ".join(f"{rps:.0f} req/s (p50 {p50}, p99 {p99})" for rps, p50, p99 in runs)
        print(f"{name:8}  median {medians[name]:7.1f} req/s   runs: {detail}")
    print(f"ratio:    full / default = {medians['full'] / medians['default']:.2f}")


if __name__ == "__main__":
    main()

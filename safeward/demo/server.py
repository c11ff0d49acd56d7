"""Serving the demo: gunicorn over TLS, a tiny plain-HTTP server that only
redirects to the HTTPS address, optional background management commands and
the schedule's periodic jobs, all supervised by one process that stops them
together on Ctrl-C or SIGTERM."""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import os
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError
from django.db import connections

from safeward import clock

# Background management commands the demo starts when they exist in this
# installation (checked at start-up, so the list may name commands that
# arrive with later issues).
DEFAULT_BACKGROUND_COMMANDS: tuple[str, ...] = ("audit seal --follow", "detect --follow")

# Access log without query strings, referrers or user agents: %(U)s is the
# path only. Query strings can carry identifiers; the audit trail records
# accesses instead.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
STOP_TIMEOUT_SECONDS = 15.0


# --- Plain HTTP: redirect only ---------------------------------------------


def redirect_target(base_url: str, raw_path: str) -> str:
    """The HTTPS address for a request path. The host is fixed (never taken
    from the request's Host header); anything that is not a plain origin-form
    path goes to the front page."""
    if not raw_path.startswith("/") or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in raw_path):
        raw_path = "/"
    return base_url.rstrip("/") + raw_path


def make_redirect_handler(base_url: str) -> type[http.server.BaseHTTPRequestHandler]:
    class RedirectHandler(http.server.BaseHTTPRequestHandler):
        server_version = "SafeWard"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def _redirect(self) -> None:
            # 301 for GET/HEAD (what browsers expect); 308 keeps the method
            # and body of anything else.
            status = 301 if self.command in {"GET", "HEAD"} else 308
            self.send_response(status)
            self.send_header("Location", redirect_target(base_url, self.path))
            self.send_header("Content-Length", "0")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def __getattr__(self, name: str) -> Callable[[], None]:
            # http.server dispatches to do_<METHOD>; every method redirects.
            if name.startswith("do_"):
                return self._redirect
            raise AttributeError(name)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: request lines carry query strings."""

    return RedirectHandler


class RedirectServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_redirect_server(host: str, port: int, base_url: str) -> RedirectServer:
    server = RedirectServer((host, port), make_redirect_handler(base_url))
    thread = threading.Thread(target=server.serve_forever, name="safeward-http-redirect", daemon=True)
    thread.start()
    return server


# --- gunicorn ------------------------------------------------------------------


def gunicorn_argv(
    *, host: str, port: int, certfile: Path, keyfile: Path, workers: int, threads: int
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "safeward.wsgi:application",
        # Forwarded headers only from SAFEWARD_TRUSTED_PROXIES; AEAD-only TLS.
        "--config",
        "python:safeward.gunicorn_conf",
        "--bind",
        f"{host}:{port}",
        "--certfile",
        str(certfile),
        "--keyfile",
        str(keyfile),
        # Threads keep browser connections alive without a buffering proxy in front.
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        "--keep-alive",
        "5",
        "--limit-request-line",
        "4094",
        "--limit-request-fields",
        "100",
        "--no-control-socket",
        "--logger-class",
        "safeward.gunicorn_logging.QuerylessLogger",
        "--access-logfile",
        "-",
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "--error-logfile",
        "-",
    ]


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_ready(
    *, host: str, port: int, certfile: Path, alive: Callable[[], bool], timeout: float = 90.0
) -> bool:
    """True once GET /healthz answers 200 over TLS, verifying the demo's own
    certificate; False when the server died or the time ran out."""
    context = ssl.create_default_context(cafile=str(certfile))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        connection = http.client.HTTPSConnection(host, port, context=context, timeout=5)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.25)
    return False


# --- Background management commands ----------------------------------------


def available_background_commands(
    candidates: Sequence[str], *, warn: Callable[[str], None]
) -> list[list[str]]:
    """The candidates that this installation can run: the command exists and
    accepts the arguments (checked by parsing them, without running)."""
    commands = get_commands()
    runnable = []
    for candidate in candidates:
        argv = shlex.split(candidate)
        if not argv:
            continue
        app = commands.get(argv[0])
        if app is None:
            warn(f"background command `safeward {candidate}` is not available here; skipped")
            continue
        command = load_command_class(app, argv[0])
        try:
            command.create_parser("safeward", argv[0]).parse_args(argv[1:])
        except (CommandError, SystemExit):
            warn(f"background command `safeward {candidate}` does not accept these arguments; skipped")
            continue
        runnable.append(argv)
    return runnable


# --- Supervisor ----------------------------------------------------------------


@dataclass
class Supervisor:
    """Starts child processes in their own sessions (so a terminal's Ctrl-C
    reaches only the supervisor) and stops them all, gently then firmly."""

    env: Mapping[str, str]
    say: Callable[[str], None]
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self, name: str, argv: Sequence[str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - argv built from fixed parts, never a shell
            list(argv), env=dict(self.env), cwd=cwd, start_new_session=True
        )
        self.children[name] = process
        return process

    def install_signal_handlers(self) -> None:
        def request_stop(signum: int, frame: FrameType | None) -> None:
            self.stopping.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def stop_all(self) -> None:
        for process in self.children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, process in self.children.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{name} did not stop in {STOP_TIMEOUT_SECONDS:.0f}s; killing it")
                process.kill()
                process.wait()

    def watch(self, essential: str, poll_seconds: float = 0.5) -> int:
        """Wait until a stop is requested (returns 0) or the essential child
        exits on its own (returns 1). Background children that exit are
        reported once and left stopped."""
        reported: set[str] = set()
        while not self.stopping.wait(poll_seconds):
            for name, process in self.children.items():
                code = process.poll()
                if code is None or name in reported:
                    continue
                if name == essential:
                    self.say(f"{name} exited unexpectedly (exit code {code})")
                    return 1
                self.say(f"background command {name} exited (exit code {code})")
                reported.add(name)
        return 0


# --- The schedule's periodic jobs (ADR 1654) -----------------------------------

# As often as production's cron line (`*/5 * * * * safeward schedule run-due`).
SCHEDULE_EVERY_MINUTES = 5


@dataclass
class ScheduleTicker:
    """Runs `argv` (`safeward schedule run-due`) every `every` seconds while
    the demo serves: the demo's stand-in for production's cron line (ADR
    1654). Each tick is a child process of its own, as cron's is, so a job
    that crashes or hangs takes nothing of the server with it; ticks never
    overlap, and the first runs at start. The schedule records each job's
    run; `summarize(since, exit_code)` makes the tick one line for `say`.
    `wait` and `monotonic` are the clock (tests inject them): `wait(seconds)`
    returns True when the ticker is to stop."""

    argv: Sequence[str]
    env: Mapping[str, str]
    every: float
    say: Callable[[str], None]
    summarize: Callable[[dt.datetime, int], str]
    stopping: threading.Event = field(default_factory=threading.Event)
    wait: Callable[[float], bool] | None = None  # default: the stop event's wait
    monotonic: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _child: subprocess.Popen[bytes] | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="safeward-schedule", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        wait = self.wait or self.stopping.wait
        try:
            while not self.stopping.is_set():
                began = self.monotonic()
                self._tick()
                if wait(max(0.0, self.every - (self.monotonic() - began))):
                    return
        finally:
            connections.close_all()  # the summaries' database connection, this thread's own

    def _tick(self) -> None:
        since = clock.now()
        with self._lock:
            if self.stopping.is_set():
                return
            try:
                child = self._child = subprocess.Popen(  # noqa: S603 - our own argv, never a shell
                    list(self.argv),
                    env=dict(self.env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,  # each job's line is in the schedule's record
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # the terminal's Ctrl-C is the supervisor's to pass on
                )
            except OSError as error:
                self.say(f"schedule run-due did not start ({type(error).__name__})")
                return
        exit_code = child.wait()
        with self._lock:
            self._child = None
        if self.stopping.is_set():
            return  # interrupted by stop(): the interrupted job's row says so
        try:
            line = self.summarize(since, exit_code)
        except Exception as error:  # a summary that fails stops neither the schedule nor the server
            line = f"schedule run-due exited {exit_code}; no summary ({type(error).__name__})"
        self.say(line)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop ticking; a tick under way is interrupted (SIGINT: run-due
        closes the job it was in as failed), killed if still there after
        `timeout`."""
        with self._lock:
            self.stopping.set()
            child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.say(f"schedule run-due did not stop in {timeout:.0f}s; killing it")
                child.kill()
                child.wait()
        if self._thread is not None:
            self._thread.join(timeout=timeout)


def schedule_tick_summary(since: dt.datetime, exit_code: int) -> str:
    """A tick in one line from the schedule's own record of the runs it
    started: job codes, outcomes and exception classes or waiting reasons,
    never a job's output (it may name a patient or a path)."""
    from safeward.continuity import selectors

    runs = selectors.scheduled_runs_since(since=since)
    done = (
        ", ".join(f"{run.job} {run.outcome}" + (f" ({run.error})" if run.error else "") for run in runs)
        or "nothing due"
    )
    return f"schedule run-due: {done}" + (f" (exit {exit_code})" if exit_code else "")


def child_environment(
    base: Mapping[str, str], *, var_dir: Path, secret_key_file: Path | None
) -> dict[str, str]:
    env = dict(base)
    env["SAFEWARD_DEMO"] = "1"
    env["SAFEWARD_VAR_DIR"] = str(var_dir)
    env.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
    if secret_key_file is not None:
        env.pop("SAFEWARD_SECRET_KEY", None)
        env["SAFEWARD_SECRET_KEY_FILE"] = str(secret_key_file)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def python_command(*args: str) -> list[str]:
    """`safeward <args>` run with this interpreter."""
    return [sys.executable, "-m", "safeward.cli", *args]


def default_workers() -> int:
    return max(2, min(3, os.cpu_count() or 2))

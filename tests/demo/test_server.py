import datetime as dt
import http.client
import ipaddress
import signal
import socket
import stat
import sys
import threading

import pytest
from cryptography import x509
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward import clock
from safeward.demo import server, tls


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_certificate_is_self_signed_for_loopback_and_private(tmp_path):
    files = tls.ensure_certificate(tmp_path / "tls")
    assert files.created
    certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert certificate.issuer == certificate.subject
    assert _mode(files.key) == 0o600
    assert _mode(tmp_path / "tls") == 0o700


def test_certificate_is_reused_until_it_nears_expiry(tmp_path, frozen_clock):
    first = tls.ensure_certificate(tmp_path / "tls")
    original = first.certificate.read_bytes()
    again = tls.ensure_certificate(tmp_path / "tls")
    assert not again.created
    assert again.certificate.read_bytes() == original

    frozen_clock.advance(days=tls.CERTIFICATE_DAYS - tls.RENEW_DAYS + 1)
    renewed = tls.ensure_certificate(tmp_path / "tls")
    assert renewed.created
    assert renewed.certificate.read_bytes() != original


def test_certificate_is_replaced_when_a_name_is_missing(tmp_path):
    tls.ensure_certificate(tmp_path / "tls", ("127.0.0.1",))
    assert tls.ensure_certificate(tmp_path / "tls", ("127.0.0.1", "localhost")).created


def test_certificate_validity_follows_the_injected_clock(tmp_path, frozen_clock):
    files = tls.ensure_certificate(tmp_path / "tls")
    certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    assert certificate.not_valid_before_utc <= clock.now() < certificate.not_valid_after_utc
    assert certificate.not_valid_after_utc - clock.now() <= dt.timedelta(days=tls.CERTIFICATE_DAYS)


def test_secret_key_is_generated_once_and_private(tmp_path):
    path = tmp_path / "secret-key"
    assert tls.ensure_secret_key(path)
    key = path.read_text().strip()
    assert len(key) >= tls.SECRET_KEY_MIN_LENGTH
    assert _mode(path) == 0o600
    assert not tls.ensure_secret_key(path)
    assert path.read_text().strip() == key


def test_a_short_secret_key_file_is_replaced(tmp_path):
    path = tmp_path / "secret-key"
    path.write_text("short")
    assert tls.ensure_secret_key(path)
    assert len(path.read_text().strip()) >= tls.SECRET_KEY_MIN_LENGTH


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/", "https://127.0.0.1:8443/"),
        ("/accounts/login/?next=/", "https://127.0.0.1:8443/accounts/login/?next=/"),
        ("//evil.example/", "https://127.0.0.1:8443//evil.example/"),
        ("http://evil.example/", "https://127.0.0.1:8443/"),
        ("/a\x7fb", "https://127.0.0.1:8443/"),
    ],
)
def test_redirect_target_keeps_the_host_fixed(path, target):
    assert server.redirect_target("https://127.0.0.1:8443", path) == target


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_plain_http_only_redirects():
    port = _free_port()
    redirect = server.start_redirect_server("127.0.0.1", port, "https://127.0.0.1:8443")
    try:
        for method, status in (("GET", 301), ("HEAD", 301), ("POST", 308), ("DELETE", 308)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request(method, "/accounts/login/?next=/", headers={"Host": "evil.example"})
            response = connection.getresponse()
            assert response.status == status
            assert response.getheader("Location") == "https://127.0.0.1:8443/accounts/login/?next=/"
            assert response.read() == b""
            assert "Python" not in (response.getheader("Server") or "")
            connection.close()
    finally:
        redirect.shutdown()
        redirect.server_close()


def test_gunicorn_serves_tls_without_control_socket_or_query_strings(tmp_path):
    argv = server.gunicorn_argv(
        host="127.0.0.1",
        port=8443,
        certfile=tmp_path / "cert.pem",
        keyfile=tmp_path / "key.pem",
        workers=2,
        threads=4,
    )
    assert argv[argv.index("--certfile") + 1] == str(tmp_path / "cert.pem")
    assert argv[argv.index("--keyfile") + 1] == str(tmp_path / "key.pem")
    assert "--no-control-socket" in argv
    log_format = argv[argv.index("--access-logformat") + 1]
    # %(U)s is the path alone; %(r)s, %(q)s and %(f)s would log query strings or referrers.
    assert "%(U)s" in log_format
    for leaky in ("%(r)s", "%(q)s", "%(f)s", "%(a)s"):
        assert leaky not in log_format
    assert argv[argv.index("--logger-class") + 1] == "safeward.gunicorn_logging.QuerylessLogger"


def test_unknown_background_commands_are_skipped():
    notes = []
    runnable = server.available_background_commands(
        ["no-such-command --follow", "roles list", "roles --no-such-option", ""], warn=notes.append
    )
    assert runnable == [["roles", "list"]]
    assert len(notes) == 2


def test_empty_background_list_is_fine():
    assert server.available_background_commands([], warn=pytest.fail) == []


def test_child_environment_carries_demo_mode_and_the_key_file(tmp_path):
    env = server.child_environment(
        {"PATH": "/usr/bin", "SAFEWARD_SECRET_KEY": "x" * 60},
        var_dir=tmp_path,
        secret_key_file=tmp_path / "secret-key",
    )
    assert env["SAFEWARD_DEMO"] == "1"
    assert env["SAFEWARD_VAR_DIR"] == str(tmp_path)
    assert env["SAFEWARD_SECRET_KEY_FILE"] == str(tmp_path / "secret-key")
    assert "SAFEWARD_SECRET_KEY" not in env


def test_supervisor_stops_children_on_request():
    supervisor = server.Supervisor(env={"PATH": "/usr/bin:/bin"}, say=lambda line: None)
    child = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor.stopping.set()
    assert supervisor.watch("sleeper", poll_seconds=0.01) == 0
    supervisor.stop_all()
    assert child.returncode is not None


def test_supervisor_reports_a_dead_essential_child():
    said = []
    supervisor = server.Supervisor(env={"PATH": "/usr/bin:/bin"}, say=said.append)
    supervisor.start("background", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor.start("essential", [sys.executable, "-c", "import time; time.sleep(0.5)"])
    assert supervisor.watch("essential", poll_seconds=0.05) == 1
    supervisor.stop_all()
    assert any("background" in line and "3" in line for line in said)
    assert any("essential exited unexpectedly" in line for line in said)


def test_serve_refuses_outside_demo_mode(settings):
    settings.SAFEWARD_DEMO = False
    with pytest.raises(CommandError, match="SAFEWARD_DEMO"):
        call_command("demo", "serve", "--port", str(_free_port()), "--http-port", "0")


def test_serve_says_which_port_is_taken(settings, tmp_path):
    settings.SAFEWARD_DEMO = True
    settings.VAR_DIR = tmp_path
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {port} .* in use"):
            call_command("demo", "serve", "--port", str(port), "--http-port", "0")


# --- the schedule's periodic jobs (ADR 1654) -------------------------------------------------


class FakeClock:
    """The ticker's clock: `wait` records each pause and lets `ticks` ticks
    happen before asking it to stop; each tick takes `tick_seconds`."""

    def __init__(self, ticks: int, tick_seconds: float = 0.0) -> None:
        self.ticks, self.tick_seconds = ticks, tick_seconds
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        # Read before and after each tick: every reading is a tick's time later.
        self.now += self.tick_seconds
        return self.now

    def wait(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        return len(self.pauses) >= self.ticks


def _ticker(argv, clock_, said, summaries=None, **kwargs):
    def summarize(since, exit_code):
        if summaries is not None:
            summaries.append((since, exit_code))
        return f"ran ({exit_code})"

    return server.ScheduleTicker(
        argv=argv,
        env={"PATH": "/usr/bin:/bin"},
        every=300.0,
        say=said.append,
        summarize=kwargs.pop("summarize", summarize),
        wait=clock_.wait,
        monotonic=clock_.monotonic,
        **kwargs,
    )


def test_the_ticker_runs_run_due_at_its_interval_until_stopped():
    fake, said, summaries = FakeClock(ticks=3, tick_seconds=40.0), [], []
    ticker = _ticker([sys.executable, "-c", "raise SystemExit(0)"], fake, said, summaries)
    ticker.start()
    ticker._thread.join(timeout=30)
    assert not ticker._thread.is_alive()
    # Three ticks, one right at the start; each pause is the interval less the tick's own time.
    assert len(summaries) == 3
    assert fake.pauses == [260.0, 260.0, 260.0]
    assert said == ["ran (0)"] * 3
    assert all(isinstance(since, dt.datetime) and code == 0 for since, code in summaries)


def test_a_failing_tick_or_summary_never_stops_the_ticker():
    said = []

    def broken(since, exit_code):
        raise RuntimeError("the database went away")

    ticker = _ticker(
        [sys.executable, "-c", "raise SystemExit(1)"], FakeClock(ticks=2), said, summarize=broken
    )
    ticker.start()
    ticker._thread.join(timeout=30)
    assert said == ["schedule run-due exited 1; no summary (RuntimeError)"] * 2
    said.clear()
    missing = _ticker(["/nonexistent/safeward"], FakeClock(ticks=2), said)
    missing.start()
    missing._thread.join(timeout=30)
    assert said == ["schedule run-due did not start (FileNotFoundError)"] * 2


def test_stopping_the_ticker_interrupts_a_tick_under_way(tmp_path):
    # A run-due still at work when the server stops gets SIGINT (run-due then
    # closes its job as failed) and the ticker says no summary for it.
    started = tmp_path / "started"
    script = (
        "import pathlib, sys, time\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    sys.exit(130)\n"
    )
    said = []
    # As in `demo serve`, the supervisor's handlers are in place first: a child
    # then starts with SIGINT at its default even where this process was
    # started with it ignored (a background job of a script).
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    server.Supervisor(env={}, say=said.append).install_signal_handlers()
    ticker = server.ScheduleTicker(
        argv=[sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin"},
        every=300.0,
        say=said.append,
        summarize=lambda since, exit_code: pytest.fail("no summary for an interrupted tick"),
    )
    ticker.start()
    for _ in range(400):  # the child's start-up, not the interval
        if started.exists():
            break
        threading.Event().wait(0.025)
    child = ticker._child
    assert child is not None
    try:
        ticker.stop(timeout=10)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert child.returncode == 130  # interrupted, not killed
    assert not ticker._thread.is_alive()
    assert ticker._child is None
    assert said == []


def test_a_stopped_ticker_starts_no_tick():
    said = []
    ticker = _ticker([sys.executable, "-c", "raise SystemExit(0)"], FakeClock(ticks=5), said)
    ticker.stop()
    ticker.start()
    ticker._thread.join(timeout=10)
    assert said == []


@pytest.mark.django_db
def test_the_tick_summary_is_the_schedules_own_record(frozen_clock):
    from safeward.continuity.models import ScheduledRun

    since = clock.now()
    assert server.schedule_tick_summary(since, 0) == "schedule run-due: nothing due"
    ScheduledRun.objects.create(job="kits", started_at=since - dt.timedelta(minutes=5), outcome="succeeded")
    ScheduledRun.objects.create(job="kits", started_at=since, outcome="succeeded")
    ScheduledRun.objects.create(
        job="backup", started_at=since + dt.timedelta(seconds=1), outcome="failed", error="CommandError"
    )
    ScheduledRun.objects.create(
        job="backup_verify", started_at=since + dt.timedelta(seconds=2), outcome="waiting", error="no_backup"
    )
    assert server.schedule_tick_summary(since, 1) == (
        "schedule run-due: kits succeeded, backup failed (CommandError), "
        "backup_verify waiting (no_backup) (exit 1)"
    )


def test_serve_refuses_a_negative_schedule_interval(settings, tmp_path):
    settings.SAFEWARD_DEMO = True
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="--schedule-minutes"):
        call_command(
            "demo", "serve", "--port", str(_free_port()), "--http-port", "0", "--schedule-minutes", "-1"
        )

"""The README's first command, end to end: `safeward demo serve` as a real
process (gunicorn over TLS plus the plain-HTTP redirect), on free ports with
its own var folder and SQLite; a demo user signs in with password + TOTP in
headless Chromium over HTTPS and reaches the dashboard."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import totp_now
from tests.e2e.conftest import nav_click

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("demo_server")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoServer:
    def __init__(self, var_dir: Path, https_port: int, http_port: int, log: Path):
        self.var_dir = var_dir
        self.https_port = https_port
        self.http_port = http_port
        self.url = f"https://127.0.0.1:{https_port}"
        self.log = log
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SAFEWARD_", "DJANGO_")) and key != "DATABASE_URL"
        }
        env.update({"SAFEWARD_DEMO": "1", "SAFEWARD_ENV": "development", "SAFEWARD_VAR_DIR": str(var_dir)})
        self._log_handle = log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "safeward.cli",
                "demo",
                "serve",
                "--port",
                str(https_port),
                "--http-port",
                str(http_port),
                "--workers",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_running(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if "demo hospital is running" in self.output():
                return
            if self.process.poll() is not None:
                pytest.fail(f"the demo server exited ({self.process.returncode}):\n{self.output()}")
            time.sleep(0.25)
        pytest.fail(f"the demo server did not start in {STARTUP_SECONDS}s:\n{self.output()}")

    def credentials(self) -> dict[str, dict[str, str]]:
        document = json.loads((self.var_dir / "demo-credentials.json").read_text())
        return {entry["role"]: entry for entry in document["users"]}

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.var_dir / "tls" / "cert.pem"))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_handle.close()
        return self.process.returncode


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    demo = DemoServer(base / "var", _free_port(), _free_port(), base / "serve.log")
    try:
        demo.wait_until_running()
        yield demo
    finally:
        demo.stop()


def _plain_http_status(port: int) -> int | None:
    """The status a plain-HTTP request gets on `port`, None when refused."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/accounts/login/")
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _get(demo, path, *, tls=True, method="GET"):
    connection = (
        http.client.HTTPSConnection("127.0.0.1", demo.https_port, context=demo.tls_context(), timeout=10)
        if tls
        else http.client.HTTPConnection("127.0.0.1", demo.http_port, timeout=10)
    )
    try:
        connection.request(method, path)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_serves_https_with_its_own_certificate_and_redirects_plain_http(demo_server):
    response = _get(demo_server, "/accounts/login/")
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security", "").startswith("max-age=")

    redirect = _get(demo_server, "/accounts/login/?next=/", tls=False)
    assert redirect.status == 301
    assert redirect.getheader("Location") == f"{demo_server.url}/accounts/login/?next=/"

    # The HTTPS port speaks TLS only.
    assert _plain_http_status(demo_server.https_port) is None


def test_prints_where_to_log_in_and_keeps_secrets_private(demo_server):
    output = demo_server.output()
    assert f"{demo_server.url}/" in output
    assert str(demo_server.var_dir / "demo-credentials.json") in output
    for entry in demo_server.credentials().values():
        assert entry["password"] not in output
        assert entry["totp_secret"] not in output
    for private in ("demo-credentials.json", "secret-key", "tls/key.pem"):
        assert stat.S_IMODE((demo_server.var_dir / private).stat().st_mode) == 0o600, private
    # Access log lines carry paths only (the redirect test above sent ?next=/).
    assert "?next=" not in output


def test_runs_the_periodic_jobs_while_serving(demo_server):
    # The demo plays production's cron line (ADR 1654): a `schedule run-due`
    # tick as soon as it serves, summed up in one line.
    assert "Periodic jobs  safeward schedule run-due every 5 min" in demo_server.output()
    deadline = time.monotonic() + 120
    while "schedule run-due:" not in demo_server.output():
        if time.monotonic() > deadline:
            pytest.fail(f"no schedule tick in 120 s:\n{demo_server.output()[-3000:]}")
        time.sleep(0.5)
    tick = next(line for line in demo_server.output().splitlines() if "schedule run-due:" in line)
    assert "failed" not in tick, tick


def _arrive(page, url, screenshot, name, demo_server):
    """Wait for `url`; on failure keep a screenshot and say where the browser is."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(url)
    except PlaywrightTimeout:
        screenshot(page, name)
        pytest.fail(
            f"expected {url}, the browser is at {page.url}:\n{page.inner_text('body')[:1000]}\n"
            f"server log:\n{demo_server.output()[-3000:]}"
        )


def test_demo_user_signs_in_with_password_and_totp(demo_server, browser, screenshot):
    entry = demo_server.credentials()["physician"]
    context = browser.new_context(
        base_url=demo_server.url, ignore_https_errors=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    try:
        page.goto("/accounts/login/")
        assert page.locator(".demo-banner").is_visible()
        page.fill("input[name=login]", entry["username"])
        page.fill("input[name=password]", entry["password"])
        screenshot(page, "demo-01-login")
        page.click("form button[type=submit]")

        page.wait_for_url("**/accounts/2fa/authenticate/**")
        assert page.locator(".demo-banner").is_visible()
        page.fill("input[name=code]", totp_now(entry["totp_secret"]))
        screenshot(page, "demo-02-totp")
        page.click("form button[type=submit]")

        _arrive(page, f"{demo_server.url}/", screenshot, "demo-03-failed", demo_server)
        assert page.locator(".demo-banner").is_visible()
        assert page.get_by_text(entry["role_name"]).first.is_visible()
        screenshot(page, "demo-03-dashboard")

        nav_click(page, "My sessions")
        _arrive(page, f"{demo_server.url}/identity/sessions/", screenshot, "demo-04-failed", demo_server)
        assert page.locator(".demo-banner").is_visible()
        screenshot(page, "demo-04-sessions")
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        session_cookie = cookies["__Host-safeward_session"]
        assert session_cookie["secure"]
        assert session_cookie["httpOnly"]
    finally:
        context.close()
    assert not problems, problems


def test_sigterm_stops_both_servers(demo_server):
    assert demo_server.stop() == 0
    for port in (demo_server.https_port, demo_server.http_port):
        assert not _listening(port), port
    assert "Stopped." in demo_server.output()

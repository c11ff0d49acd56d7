"""The real gunicorn, started as the demo starts it: forwarded headers are
believed only from SAFEWARD_TRUSTED_PROXIES (issue 11, item 12), and TLS
offers AEAD suites only (item 14: no CBC, so no LUCKY13)."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import sqlite3
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from safeward.demo import server
from safeward.demo.tls import TLSFiles, ensure_certificate
from tests.migrated import copy_of_migrated

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SPOOFED_CLIENT = "198.51.100.200"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(var_dir: Path, trusted_proxies: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SAFEWARD_", "DJANGO_", "FORWARDED_ALLOW")) and key != "DATABASE_URL"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "safeward.settings",
            "SAFEWARD_VAR_DIR": str(var_dir),
            # Static files straight from the apps (no collectstatic step), but
            # the HTTPS redirect of a real deployment on.
            "SAFEWARD_ENV": "test",
            "SAFEWARD_SSL_REDIRECT": "true",
            "SAFEWARD_TRUSTED_PROXIES": trusted_proxies,
        }
    )
    return env


class Served:
    def __init__(self, port: int, tls: TLSFiles, database: Path) -> None:
        self.port = port
        self.tls = tls
        self.database = database

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls.certificate))

    def get(self, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(), timeout=10)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def failed_sign_in_address(self, headers: dict[str, str]) -> str:
        """Post a wrong password (with the CSRF token of the login page) and
        read back the client address the audit trail recorded for it."""
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(), timeout=10)
        connection.request("GET", "/accounts/login/", headers=headers)
        page = connection.getresponse()
        body = page.read().decode()
        assert page.status == 200, (page.status, page.getheader("Location"))
        cookie = (page.getheader("Set-Cookie") or "").split(";", 1)[0]
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        assert found is not None
        token = found.group(1)
        origin = f"https://127.0.0.1:{self.port}"
        connection.request(
            "POST",
            "/accounts/login/",
            body=f"csrfmiddlewaretoken={token}&login=nobody.here&password=wrong-password-123",
            headers={
                **headers,
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Referer": f"{origin}/accounts/login/",
            },
        )
        answer = connection.getresponse()
        answer.read()
        connection.close()
        assert answer.status == 200
        with contextlib.closing(sqlite3.connect(self.database)) as database:
            (address,) = database.execute(
                "SELECT client_ip FROM audit_auditevent WHERE action = 'login' ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return str(address)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, migrated_sqlite_var) -> Path:
    """This module's copy of the run's one real `safeward migrate` and
    `createcachetable` (tests/migrated.py)."""
    return copy_of_migrated(migrated_sqlite_var, tmp_path_factory.mktemp("gunicorn"))


def _serve(var_dir: Path, trusted_proxies: str, log: Path) -> Iterator[Served]:
    tls = ensure_certificate(var_dir / "tls")
    port = _free_port()
    argv = server.gunicorn_argv(
        host="127.0.0.1", port=port, certfile=tls.certificate, keyfile=tls.key, workers=1, threads=2
    )
    with log.open("wb") as log_file:
        process = subprocess.Popen(  # our own argv
            argv,
            env=_environment(var_dir, trusted_proxies),
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = server.wait_until_ready(
                host="127.0.0.1", port=port, certfile=tls.certificate, alive=lambda: process.poll() is None
            )
            assert ready, log.read_text(errors="replace")[-3000:]
            yield Served(port, tls, var_dir / "safeward.sqlite3")
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def no_proxy(migrated, tmp_path_factory) -> Iterator[Served]:
    yield from _serve(migrated, "", tmp_path_factory.mktemp("log") / "gunicorn.log")


@pytest.fixture(scope="module")
def behind_loopback_proxy(migrated, tmp_path_factory) -> Iterator[Served]:
    yield from _serve(migrated, "127.0.0.1/32", tmp_path_factory.mktemp("log") / "gunicorn.log")


def test_forwarded_headers_from_loopback_are_ignored_without_trusted_proxies(no_proxy):
    # A believed "X-Forwarded-Proto: http" would make the TLS request look
    # like plain HTTP (wsgi.url_scheme) and get the HTTPS redirect.
    assert no_proxy.get("/healthz", {"X-Forwarded-Proto": "http"}).status == 200
    address = no_proxy.failed_sign_in_address(
        {"X-Forwarded-For": SPOOFED_CLIENT, "X-Forwarded-Proto": "http"}
    )
    assert address == "127.0.0.1"


def test_forwarded_headers_are_honoured_from_a_listed_proxy(behind_loopback_proxy):
    response = behind_loopback_proxy.get("/healthz", {"X-Forwarded-Proto": "http"})
    assert response.status == 301
    assert response.getheader("Location", "").startswith("https://")
    address = behind_loopback_proxy.failed_sign_in_address(
        {"X-Forwarded-For": SPOOFED_CLIENT, "X-Forwarded-Proto": "https"}
    )
    assert address == SPOOFED_CLIENT


def _handshake(served: Served, context: ssl.SSLContext) -> tuple[str, str]:
    with (
        socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls_socket,
    ):
        negotiated = tls_socket.cipher()
        assert negotiated is not None
        return negotiated[0], negotiated[1]


def _tls12_client(served: Served, ciphers: str) -> ssl.SSLContext:
    context = served.context()
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
    return context


def test_a_cbc_only_client_is_refused(no_proxy):
    cbc = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"
    context = _tls12_client(no_proxy, cbc)
    with pytest.raises(ssl.SSLError):
        _handshake(no_proxy, context)


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_an_aead_tls12_client_is_served(no_proxy, cipher):
    assert _handshake(no_proxy, _tls12_client(no_proxy, cipher)) == (cipher, "TLSv1.2")


def test_tls13_is_offered(no_proxy):
    assert _handshake(no_proxy, no_proxy.context())[1] == "TLSv1.3"

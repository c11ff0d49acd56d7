"""No query string is ever written to a log (ADR 0540): search criteria that a
client put in a URL anyway (`?name=...`) must not reach Django's log output,
gunicorn's access log or gunicorn's error log. Checked on what the configured
handlers really write (file descriptors captured), and end to end against the
production server (gunicorn over TLS, as the demo runs it)."""

from __future__ import annotations

import io
import logging
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safeward.audit.models import AuditEvent
from safeward.demo import server
from safeward.demo.tls import ensure_certificate
from safeward.log_privacy import StripQueryStrings, strip_query_strings
from tests.clinical.conftest import new_patient, relate
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token
from tests.migrated import copy_of_migrated

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Zyxwquistname"  # a "name" criterion that must never be logged
SECRET_DATE = "1931-07-14"
SECRET_FAMILY = "Qwertfamily"


@pytest.mark.parametrize(
    ("line", "clean"),
    [
        ('"GET /fhir/Patient?name=Ada%20Q HTTP/1.1" 200', '"GET /fhir/Patient HTTP/1.1" 200'),
        ("Invalid request line: 'GET /x?name=Ada Quist HTTP/1.1'", "Invalid request line: 'GET /x HTTP/1.1'"),
        ("see https://h.example/fhir/Patient?name=x&birthdate=1", "see https://h.example/fhir/Patient"),
        ("Not Found: /nope?q=1\nnext line", "Not Found: /nope\nnext line"),
        ("Are you sure?", "Are you sure?"),
    ],
)
def test_strip_query_strings(line, clean):
    assert strip_query_strings(line) == clean


def test_the_filter_rewrites_messages_arguments_and_tracebacks():
    try:
        raise ValueError(f"bad request /fhir/Patient?name={SECRET}")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "GET %s", (f"/fhir/Patient?name={SECRET}",), sys.exc_info()
        )
    assert StripQueryStrings().filter(record)
    text = logging.Formatter().format(record)
    assert SECRET not in text
    assert "GET /fhir/Patient" in text


@pytest.mark.django_db
def test_requests_with_criteria_in_the_url_leave_no_trace_in_logs_or_audit(make_user, client):
    """Every logger SafeWard configures writes through the console handler and
    its filter (its output is read here); request loggers are turned up to
    DEBUG so that even the 4xx warnings Django would normally drop are written."""
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table

    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8"], clinical=True)
    zone_table.clear()
    patient = new_patient()
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    raw = token(doctor, "user/*.rs")
    loud = [logging.getLogger(name) for name in ("django.request", "django.security", "django.server")]
    levels = [logger.level for logger in loud]
    for logger in loud:
        logger.setLevel(logging.DEBUG)
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, StripQueryStrings) for f in handler.filters)
    ]
    assert handlers, "settings.LOGGING installs the filter on the console handler"
    buffer = io.StringIO()
    streams = [
        handler.setStream(buffer) for handler in handlers if isinstance(handler, logging.StreamHandler)
    ]
    query = f"name={SECRET}&birthdate={SECRET_DATE}"
    try:
        assert client.get(f"/fhir/Patient?{query}").status_code == 401
        assert client.get(f"/fhir/Patient?{query}", **bearer(raw)).status_code == 200
        # GET is not offered on the patient collection: a search is a POST.
        assert client.get(f"/api/v1/clinical/patients/?{query}", **bearer(raw)).status_code == 405
        assert client.get(f"/no/such/page?{query}").status_code in (302, 404)
        sign_in(client, doctor)
        assert client.get(f"/no/such/page?{query}").status_code == 404
        assert client.get(f"/fhir/Spaceship?{query}").status_code == 404
        # What runserver and an application's own code would log about a request.
        logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 12', f"/fhir/Patient?{query}")
        logging.getLogger("safeward.clinical").warning("slow request %s", f"http://testserver/x?{query}")
    finally:
        for logger, level in zip(loud, levels, strict=True):
            logger.setLevel(level)
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
    written = buffer.getvalue()
    assert "Not Found: /no/such/page" in written  # the logs were really captured
    assert "/fhir/Patient" in written
    assert SECRET not in written
    assert SECRET_DATE not in written
    for event in AuditEvent.objects.all():
        row = f"{event.reason} {event.detail} {event.fields} {event.resource_id} {event.user_agent}"
        assert SECRET not in row
        assert SECRET_DATE not in row


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SAFEWARD_", "DJANGO_")) and key != "DATABASE_URL"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "safeward.settings",
            "SAFEWARD_VAR_DIR": str(var_dir),
            "SAFEWARD_ENV": "development",
            "SAFEWARD_LOG_LEVEL": "DEBUG",
        }
    )
    return env


@pytest.mark.slow
def test_gunicorn_logs_paths_without_query_strings(tmp_path, migrated_sqlite_var):
    """The production server as the demo starts it: access log, error log
    (including gunicorn's own "invalid request" warnings) and Django's logs.
    On a copy of the run's migrated var folder (ADR 0306)."""
    env = _environment(copy_of_migrated(migrated_sqlite_var, tmp_path))
    tls = ensure_certificate(tmp_path / "tls")
    port = _free_port()
    argv = server.gunicorn_argv(
        host="127.0.0.1", port=port, certfile=tls.certificate, keyfile=tls.key, workers=1, threads=2
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
        )  # our own argv
        try:
            ready = server.wait_until_ready(
                host="127.0.0.1",
                port=port,
                certfile=tls.certificate,
                alive=lambda: process.poll() is None,
            )
            assert ready, log_path.read_text(errors="replace")[-3000:]
            context = ssl.create_default_context(cafile=str(tls.certificate))
            query = f"name={SECRET}&birthdate={SECRET_DATE}"
            request_lines = [
                f"GET /fhir/Patient?{query} HTTP/1.1",
                f"GET /api/v1/clinical/patients/?{query} HTTP/1.1",
                f"GET /healthz?{query} HTTP/1.1",
                f"GET /no/such/page?{query} HTTP/1.1",
                f"POST /fhir/Patient/_search?{query} HTTP/1.1",
                # Malformed: a space inside the query; gunicorn refuses and warns in its error log.
                f"GET /fhir/Patient?name={SECRET} {SECRET_FAMILY}&x=1 HTTP/1.1",
                f"GET /fhir/Patient?name={SECRET}\x01 HTTP/1.1",
            ]
            for line in request_lines:
                with (
                    socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as tls_socket,
                ):
                    tls_socket.sendall(
                        f"{line}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode(
                            "latin-1"
                        )
                    )
                    reply = b""
                    while chunk := tls_socket.recv(65536):
                        reply += chunk
                    # (gunicorn's 400 page echoes a malformed request line to its own sender: not a log.)
                    assert reply.startswith(b"HTTP/1.1 "), reply[:100]
        finally:
            process.terminate()
            process.wait(timeout=30)
    deadline = time.monotonic() + 5
    written = log_path.read_text(errors="replace")
    while "/no/such/page" not in written and time.monotonic() < deadline:  # pragma: no cover - slow flush
        time.sleep(0.1)
        written = log_path.read_text(errors="replace")
    assert '"GET /fhir/Patient HTTP/1.1" 401' in written  # the access log has the path
    assert "/no/such/page" in written
    assert "malformed request (the request line is not logged)" in written
    for value in (SECRET, SECRET_DATE, SECRET_FAMILY):
        assert value not in written, written[-3000:]

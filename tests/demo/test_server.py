import datetime as dt
import http.client
import ipaddress
import socket
import stat
import sys

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

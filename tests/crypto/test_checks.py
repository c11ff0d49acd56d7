"""`safeward check` additions: key provider, KEK file permissions and place,
keyring health; and the database sslmode rule that protects data in transit."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings as django_settings

from safeward.crypto import checks
from safeward.crypto.keyring import keyring
from safeward.crypto.providers import FileKeyProvider
from safeward.crypto.services import Actor, key_rotate
from safeward.identity.checks import check_settings
from tests.crypto.testapp.models import Record


def ids(messages):
    return {message.id for message in messages}


def set_databases(monkeypatch, databases):
    """Swap the DATABASES the checks read, without reconfiguring connections
    (Django warns against overriding DATABASES through the settings fixture)."""
    monkeypatch.setattr(django_settings, "DATABASES", databases)


@pytest.fixture
def outside_keys(settings, tmp_path, monkeypatch):
    settings.SAFEWARD_KEY_PROVIDER = "file"
    settings.SAFEWARD_KEY_DIR = tmp_path / "keys"
    databases = copy.deepcopy(settings.DATABASES)
    for database in databases.values():
        if database["ENGINE"].endswith("sqlite3"):
            database["NAME"] = str(tmp_path / "db" / "safeward.sqlite3")
    set_databases(monkeypatch, databases)
    FileKeyProvider(tmp_path / "keys")
    return tmp_path / "keys"


def test_a_private_kek_outside_the_database_passes(outside_keys):
    assert checks.check_key_provider(None) == []


def test_group_readable_kek_fails(outside_keys):
    (outside_keys / "kek.key").chmod(0o640)
    outside_keys.chmod(0o750)
    found = checks.check_key_provider(None)
    assert {"safeward.E101", "safeward.E100"} <= ids(found)
    assert any("chmod 600" in (message.hint or "") for message in found)


def test_kek_beside_the_sqlite_database_fails(outside_keys, monkeypatch, tmp_path):
    set_databases(
        monkeypatch,
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "safeward.sqlite3")}},
    )
    assert "safeward.E102" in ids(checks.check_key_provider(None))


def test_no_provider_fails(settings):
    settings.SAFEWARD_KEY_PROVIDER = ""
    assert ids(checks.check_key_provider(None)) == {"safeward.E100"}


def test_vault_over_plain_http_to_a_remote_host_fails(settings):
    settings.SAFEWARD_KEY_PROVIDER = "vault"
    settings.SAFEWARD_VAULT_ADDR = "http://vault.invalid:8200"
    settings.SAFEWARD_VAULT_TOKEN = "t"
    assert {"safeward.E104", "safeward.E100"} <= ids(checks.check_key_provider(None))


def test_checks_are_registered_for_deploy_under_the_safeward_tag():
    from django.core.checks import registry

    deploy = registry.registry.get_checks(include_deployment_checks=True)
    for check in (checks.check_key_provider, checks.check_keyring):
        assert check in deploy
        assert "safeward" in check.tags


@pytest.mark.django_db
class TestKeyringCheck:
    def test_healthy(self):
        assert checks.check_keyring(None, databases=["default"]) == []
        assert checks.check_keyring(None, databases=None) == []

    def test_wrong_kek(self, outside_keys):
        keyring().refresh()
        found = checks.check_keyring(None, databases=["default"])
        assert ids(found) == {"safeward.E103"}
        assert "'file'" in found[0].msg

    def test_unfinished_reencryption_warns(self):
        Record.objects.create(mrn="MRN-C1", family_name="Check")
        key_rotate(actor=Actor(name="test"))
        found = checks.check_keyring(None, databases=["default"])
        assert ids(found) == {"safeward.W105"}
        assert "2 values are still under a non-primary data or blind-index key" in found[0].msg  # mrn, name


class TestDatabaseInTransit:
    @pytest.mark.parametrize(
        ("host", "sslmode", "flagged"),
        [
            ("db.hospital.internal", None, True),
            ("db.hospital.internal", "prefer", True),
            ("db.hospital.internal", "disable", True),
            ("10.0.4.7", "allow", True),
            ("db.hospital.internal", "require", False),
            ("db.hospital.internal", "verify-full", False),
            ("127.0.0.1", None, False),
            ("localhost", "disable", False),
            ("/var/run/postgresql", None, False),
            ("::1", None, False),
        ],
    )
    def test_remote_database_needs_tls(self, monkeypatch, host, sslmode, flagged):
        options = {"sslmode": sslmode} if sslmode else {}
        set_databases(
            monkeypatch,
            {
                "default": {
                    "ENGINE": "django.db.backends.postgresql",
                    "NAME": "safeward",
                    "HOST": host,
                    "OPTIONS": options,
                }
            },
        )
        assert ("safeward.E005" in ids(check_settings(None))) is flagged

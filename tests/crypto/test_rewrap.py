"""`safeward keys rewrap` (issue 11 item 2): every key wrapped under a new
KEK (file or env provider) in one step; a restart with the new KEK works,
the old KEK is refused, and the operation is audited."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import Action
from safeward.crypto import keyring as keyring_module
from safeward.crypto.errors import KeyProviderError, KeyringError
from safeward.crypto.keyring import Keyring, Purpose
from safeward.crypto.models import DataKey
from safeward.crypto.providers import generate_kek_text
from safeward.crypto.services import Actor, key_rotate
from safeward.crypto.startup import require_working_keys
from tests.crypto.testapp.models import Record

pytestmark = pytest.mark.django_db


def keys(*args):
    out = io.StringIO()
    call_command("keys", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def restart():
    """Install a fresh process keyring (as a restarted process has); put the suite's back."""
    previous = keyring_module.keyring()
    yield lambda: keyring_module.install(Keyring())
    keyring_module.install(previous)


def test_rewrap_to_a_new_kek_file_then_restart(settings, tmp_path, restart):
    record = Record.objects.create(mrn="MRN-KEK-1", family_name="Rewrapped")
    old_dir, new_dir = settings.SAFEWARD_KEY_DIR, tmp_path / "new-keys"
    old_kek = (old_dir / "kek.key").read_text()
    live = DataKey.objects.exclude(state=DataKey.State.RETIRED).count()

    text = keys("rewrap", "--to-key-dir", str(new_dir))
    assert f"{live} keys are now wrapped by 'file' ({new_dir / 'kek.key'})" in text
    assert (old_dir / "kek.key").read_text() == old_kek  # the old KEK is kept until the operator is sure
    event = AuditEvent.objects.filter(action=Action.KEY_OPERATION, detail__operation="rewrap").get()
    assert event.detail["keys"] == live
    assert event.detail["from_kek"] != event.detail["to_kek"]

    # A process still holding the old KEK may not add a key only it could unwrap.
    with pytest.raises(KeyringError, match="rewrapped"):
        key_rotate(actor=Actor(name="stale process"), purpose=Purpose.DATA)

    settings.SAFEWARD_KEY_DIR = new_dir
    restart()
    require_working_keys()  # the restart with the new KEK works
    assert Record.objects.get(pk=record.pk).family_name.reveal() == "Rewrapped"

    settings.SAFEWARD_KEY_DIR = old_dir
    restart()
    with pytest.raises(KeyProviderError, match="different key-encryption key"):
        require_working_keys()  # and the old KEK is refused


def test_rewrap_to_an_env_kek(settings, monkeypatch, restart):
    record = Record.objects.create(mrn="MRN-KEK-2", family_name="Env")
    monkeypatch.setenv("SAFEWARD_NEW_KEK", generate_kek_text())
    text = keys("rewrap", "--to-env", "SAFEWARD_NEW_KEK")
    assert "keys are now wrapped by 'env' ($SAFEWARD_NEW_KEK)" in text

    settings.SAFEWARD_KEY_PROVIDER = "env"
    settings.SAFEWARD_KEK_ENV_VAR = "SAFEWARD_NEW_KEK"
    restart()
    require_working_keys()
    assert Record.objects.get(pk=record.pk).family_name.reveal() == "Env"

    settings.SAFEWARD_KEY_PROVIDER = "file"
    restart()
    with pytest.raises(KeyProviderError, match="cannot unwrap"):
        require_working_keys()


def test_rewrap_refusals(settings, monkeypatch):
    with pytest.raises(CommandError, match="already holds"):
        keys("rewrap", "--to-key-dir", str(settings.SAFEWARD_KEY_DIR))
    with pytest.raises(CommandError, match="SAFEWARD_UNSET_KEK is not set"):
        keys("rewrap", "--to-env", "SAFEWARD_UNSET_KEK")
    assert AuditEvent.objects.filter(detail__operation="rewrap", outcome="denied").count() == 1

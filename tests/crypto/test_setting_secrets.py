"""A secret sealed for a setting (the alert webhook's) is counted by key
status, so its data key does not retire from under it; `keys seal` makes a
new token under the primary key (issue 11 item 2)."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import CommandError, call_command

from safeward.crypto.errors import KeyOperationRefused
from safeward.crypto.keyring import Purpose, keyring
from safeward.crypto.secrets import decrypt_secret, secret_key_id
from safeward.crypto.selectors import keyring_status
from safeward.crypto.services import Actor, key_retire, key_rotate, keys_reencrypt

pytestmark = pytest.mark.django_db
ACTOR = Actor(name="test")


def seal(monkeypatch, secret):
    monkeypatch.setattr(sys, "stdin", io.StringIO(secret + "\n"))
    out = io.StringIO()
    call_command("keys", "seal", "--purpose", "alert-webhook", stdout=out)
    return out.getvalue().strip()


def test_a_sealed_setting_holds_its_key_until_resealed(settings, monkeypatch, frozen_clock):
    token = seal(monkeypatch, "shared webhook secret")
    assert decrypt_secret(token, purpose="alert-webhook") == "shared webhook secret"
    settings.SAFEWARD_ALERT_WEBHOOK_SECRET = token
    old = keyring().primary()
    assert any(
        "SAFEWARD_ALERT_WEBHOOK_SECRET" in store
        for store in keyring_status().key(Purpose.DATA, old.version).by_store
    )

    key_rotate(actor=ACTOR)
    assert keys_reencrypt(actor=ACTOR).remaining == 1  # a setting cannot be rewritten from here
    frozen_clock.advance(minutes=30)
    with pytest.raises(KeyOperationRefused, match="still protects 1 values"):
        key_retire(actor=ACTOR, version=old.version)

    settings.SAFEWARD_ALERT_WEBHOOK_SECRET = seal(monkeypatch, "shared webhook secret")
    assert secret_key_id(settings.SAFEWARD_ALERT_WEBHOOK_SECRET) == keyring().primary().key_id
    key_retire(actor=ACTOR, version=old.version)


def test_seal_needs_the_secret_on_stdin_and_a_known_purpose(monkeypatch):
    with pytest.raises(CommandError, match="standard input"):
        seal(monkeypatch, "")
    with pytest.raises(CommandError):
        call_command("keys", "seal", "--purpose", "mfa")

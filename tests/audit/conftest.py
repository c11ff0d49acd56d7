from __future__ import annotations

import pytest

from safeward.audit import signing
from safeward.audit.checkpoints import checkpoints_write
from safeward.audit.sealing import audit_seal_pending


@pytest.fixture(autouse=True)
def audit_files(settings, tmp_path):
    """Every audit test gets its own checkpoint file, archive folder and seal key."""
    settings.SAFEWARD_AUDIT_DIR = tmp_path / "audit"
    settings.SAFEWARD_AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoints.jsonl"
    settings.SAFEWARD_AUDIT_ARCHIVE_DIR = tmp_path / "audit" / "archive"
    settings.SAFEWARD_AUDIT_SEAL_KEY_FILE = tmp_path / "keys" / "audit-seal.pem"
    previous = signing.install(None)
    _reset_keyring()
    yield tmp_path
    signing.install(previous)
    _reset_keyring()


def _reset_keyring():
    """The seal key lives in the crypto keyring; a flushed test database gets
    new keys, so no test may sign with another test's cached key."""
    from safeward.crypto.keyring import keyring

    keyring().reset()


def seal_all():
    """Seal everything and write the external checkpoints (inside the test's
    transaction, where on_commit would never fire)."""
    seals = audit_seal_pending(write_checkpoints=False)
    checkpoints_write()
    return seals

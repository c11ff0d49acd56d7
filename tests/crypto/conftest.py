from __future__ import annotations

import pytest

from safeward.crypto import keyring as keyring_module


@pytest.fixture(autouse=True)
def fresh_keyring():
    """Each crypto test starts from the keyring table as it is, not from
    another test's cache (test transactions roll key rows back)."""
    keyring_module.keyring().reset()
    yield keyring_module.keyring()
    keyring_module.keyring().reset()

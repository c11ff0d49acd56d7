"""Before SafeWard serves a request: the keyring must open with the configured
KEK. Called from safeward/wsgi.py (and the demo server); raises
KeyProviderError, whose message names the provider, so the process stops."""

from __future__ import annotations

from django.db import DatabaseError

from safeward.crypto.errors import KeyProviderError
from safeward.crypto.keyring import keyring


def require_working_keys() -> None:
    from safeward.crypto.services import Actor, keys_ensure

    ring = keyring()
    try:
        provider = ring.provider  # loads the KEK (or reaches Vault): fails here when misconfigured
        keys_ensure(actor=Actor(name="startup"))
        ring.refresh()  # unwraps every key: a wrong KEK fails here
    except DatabaseError as error:
        raise KeyProviderError(
            f"SafeWard cannot start: the keyring table cannot be read ({type(error).__name__}); "
            "run `safeward migrate` first."
        ) from None
    except KeyProviderError as error:
        raise KeyProviderError(f"SafeWard cannot start: {error}") from None
    del provider

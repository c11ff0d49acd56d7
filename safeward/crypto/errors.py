"""The errors the crypto app raises. None of them ever carries a plaintext
value: messages name the model, field, key version or provider, never data."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class CryptoError(Exception):
    """Base class of every error raised by safeward.crypto."""


class IntegrityError(CryptoError):
    """A ciphertext failed authentication: it was altered, truncated, moved to
    another row or column, or encrypted under a key this keyring does not hold.
    Never caught and turned into an empty value: it reaches the caller."""


class KeyringError(CryptoError):
    """The keyring is missing a key it needs, or a key operation was refused."""


class KeyOperationRefused(KeyringError):
    """A rotation or retirement was refused (e.g. the key still protects values)."""


class KeyProviderError(ImproperlyConfigured, CryptoError):
    """The key-encryption-key provider is misconfigured, unreachable, or holds a
    different KEK than the one that wrapped the keyring. The message names the
    provider."""


class UnregisteredCiphertext(CryptoError):
    """Something asked to encrypt a kind of value no registered ciphertext store
    owns: key rotation would miss it and retirement would destroy it."""

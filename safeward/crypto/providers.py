"""Key-encryption-key (KEK) providers: the one thing kept outside the database.

Every data key in the keyring is stored wrapped (encrypted) by the KEK. A
provider wraps and unwraps those small key blobs and nothing else; it never
sees patient data. Three providers sit behind one Protocol, chosen with
``SAFEWARD_KEY_PROVIDER``:

``file`` (the default)
    A 256-bit KEK in ``$SAFEWARD_KEY_DIR/kek.key`` (base64), created on first
    use with mode 0600 in a 0700 folder. Keep the folder out of database
    backups. A file readable by group or others is refused.
``env``
    A base64 256-bit KEK in an environment variable (``SAFEWARD_KEK`` unless
    ``SAFEWARD_KEK_ENV_VAR`` names another), for platforms that inject
    secrets into the environment.
``vault``
    HashiCorp Vault's (or OpenBao's) Transit engine through ``hvac``: the KEK
    never leaves Vault; wrapping is a Transit ``encrypt`` call. Configured
    with ``SAFEWARD_VAULT_ADDR``, ``SAFEWARD_VAULT_TOKEN`` (or ``_TOKEN_FILE``),
    ``SAFEWARD_VAULT_TRANSIT_MOUNT`` (``transit``), ``SAFEWARD_VAULT_TRANSIT_KEY``
    (``safeward-kek``) and ``SAFEWARD_VAULT_CACERT``.

The file and env providers wrap with AES-256-GCM from ``cryptography``; the
associated data binds each wrapped key to its purpose and key id, so wrapped
keys cannot be swapped between keyring rows.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import stat
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from safeward.crypto import conf
from safeward.crypto.errors import KeyProviderError

KEK_BYTES = 32
KEK_FILE_NAME = "kek.key"
_WRAP_FORMAT = b"\x01"
_NONCE_BYTES = 12


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a key-encryption key it holds."""

    name: str  # "file", "env" or "vault"

    def describe(self) -> str:
        """A human description naming the provider and where its KEK lives
        (never the KEK itself), used in every error message."""
        ...

    def fingerprint(self) -> str:
        """A short public identifier of the KEK in use, stored next to each
        wrapped key so a wrong KEK is named as such."""
        ...

    def wrap(self, key: bytes, *, associated_data: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, associated_data: bytes) -> bytes:
        """Raises KeyProviderError when the KEK is wrong or the blob altered."""
        ...


def _fingerprint(kek: bytes) -> str:
    return hmac.new(kek, b"safeward kek fingerprint v1", hashlib.sha256).hexdigest()[:16]


class _LocalKEK:
    """AES-256-GCM wrapping under a KEK held in this process (file and env)."""

    name = "local"

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise KeyProviderError(
                f"The key provider {self.describe()} holds a KEK of {len(kek)} bytes, not 32."
            )
        self._aead = AESGCM(kek)
        self._fingerprint = _fingerprint(kek)

    def describe(self) -> str:
        raise NotImplementedError

    def fingerprint(self) -> str:
        return self._fingerprint

    def wrap(self, key: bytes, *, associated_data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _WRAP_FORMAT + nonce + self._aead.encrypt(nonce, key, associated_data)

    def unwrap(self, wrapped: bytes, *, associated_data: bytes) -> bytes:
        if wrapped[:1] != _WRAP_FORMAT or len(wrapped) < 1 + _NONCE_BYTES + 16:
            raise KeyProviderError(
                f"The key provider {self.describe()} cannot read a wrapped key: unknown format."
            )
        nonce, body = wrapped[1 : 1 + _NONCE_BYTES], wrapped[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, associated_data)
        except InvalidTag:
            raise KeyProviderError(
                f"The key provider {self.describe()} could not unwrap a data key: it holds a different "
                "key-encryption key than the one that wrapped the keyring, or the keyring was altered."
            ) from None


def _decode_kek(text: str, where: str) -> bytes:
    try:
        kek = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyProviderError(f"The key provider {where} holds a KEK that is not valid base64.") from None
    if len(kek) != KEK_BYTES:
        raise KeyProviderError(f"The key provider {where} holds a KEK of {len(kek)} bytes; it must be 32.")
    return kek


def generate_kek_text() -> str:
    """A fresh KEK in the base64 form the file and env providers read."""
    return base64.b64encode(os.urandom(KEK_BYTES)).decode("ascii")


class FileKeyProvider(_LocalKEK):
    name = "file"

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.directory = Path(directory)
        self.path = self.directory / KEK_FILE_NAME
        super().__init__(self._load(create=create))

    def describe(self) -> str:
        return f"'file' ({self.path})"

    def _load(self, *, create: bool) -> bytes:
        if not self.path.exists():
            if not create:
                raise KeyProviderError(f"The key provider {self.describe()} has no KEK file.")
            self._create()
        info = self.path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyProviderError(
                f"The key provider {self.describe()} refuses a KEK file that group or others may access "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {self.path}`."
            )
        try:
            text = self.path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise KeyProviderError(
                f"The key provider {self.describe()} cannot read its KEK ({error})."
            ) from None
        return _decode_kek(text, self.describe())

    def _create(self) -> None:
        """Create the KEK file atomically: it is written in full under a
        temporary name, then hard-linked into place (which fails if another
        process won the race), so no one ever reads a half-written KEK."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".kek-")  # mode 0600
        except OSError as error:
            raise KeyProviderError(
                f"The key provider {self.describe()} cannot create its KEK ({error})."
            ) from None
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(generate_kek_text() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, self.path)
        finally:
            Path(temporary).unlink(missing_ok=True)


class EnvKeyProvider(_LocalKEK):
    name = "env"

    def __init__(self, variable: str, value: str | None) -> None:
        self.variable = variable
        if value is None or not value.strip():
            raise KeyProviderError(f"The key provider {self.describe()} has no KEK: {variable} is not set.")
        super().__init__(_decode_kek(value, self.describe()))

    def describe(self) -> str:
        return f"'env' (${self.variable})"


class VaultTransitKeyProvider:
    """Wraps data keys with a Vault/OpenBao Transit key; the KEK stays in Vault."""

    name = "vault"

    def __init__(
        self,
        *,
        url: str,
        token: str,
        mount: str = "transit",
        key_name: str = "safeward-kek",
        verify: bool | str = True,
        timeout: float = 10.0,
    ) -> None:
        import hvac

        self.url = url
        self.mount = mount
        self.key_name = key_name
        self._client = hvac.Client(url=url, token=token, verify=verify, timeout=timeout)

    def describe(self) -> str:
        return f"'vault' ({self.url}, transit key {self.mount}/{self.key_name})"

    def fingerprint(self) -> str:
        return f"{self.mount}/{self.key_name}"

    def ensure_key(self) -> None:
        """Create the Transit key if it does not exist (dev and first runs)."""
        import hvac.exceptions

        try:
            self._client.secrets.transit.read_key(name=self.key_name, mount_point=self.mount)
        except hvac.exceptions.InvalidPath:
            self._client.secrets.transit.create_key(
                name=self.key_name, key_type="aes256-gcm96", exportable=False, mount_point=self.mount
            )
        except Exception as error:
            raise KeyProviderError(
                f"The key provider {self.describe()} is unreachable ({_brief(error)})."
            ) from None

    def wrap(self, key: bytes, *, associated_data: bytes) -> bytes:
        try:
            response = self._client.secrets.transit.encrypt_data(
                name=self.key_name,
                plaintext=base64.b64encode(key).decode("ascii"),
                associated_data=base64.b64encode(associated_data).decode("ascii"),
                mount_point=self.mount,
            )
        except Exception as error:
            raise KeyProviderError(
                f"The key provider {self.describe()} could not wrap a key ({_brief(error)})."
            ) from None
        return str(response["data"]["ciphertext"]).encode("ascii")

    def unwrap(self, wrapped: bytes, *, associated_data: bytes) -> bytes:
        try:
            response = self._client.secrets.transit.decrypt_data(
                name=self.key_name,
                ciphertext=wrapped.decode("ascii"),
                associated_data=base64.b64encode(associated_data).decode("ascii"),
                mount_point=self.mount,
            )
            return base64.b64decode(response["data"]["plaintext"])
        except Exception as error:
            raise KeyProviderError(
                f"The key provider {self.describe()} could not unwrap a data key ({_brief(error)}): "
                "it holds a different key-encryption key, is unreachable, or the keyring was altered."
            ) from None


def _brief(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:160]}" if text else type(error).__name__


def provider_from_settings() -> KeyProvider:
    """The provider SAFEWARD_KEY_PROVIDER names, fully loaded (the KEK is
    read, or Vault is reached) so misconfiguration fails here, loudly."""
    name = conf.key_provider_name()
    if name == "file":
        return FileKeyProvider(conf.key_dir())
    if name == "env":
        variable = conf.kek_env_var()
        return EnvKeyProvider(variable, os.environ.get(variable))
    if name == "vault":
        url, token = conf.vault_addr(), conf.vault_token()
        if not url or not token:
            raise KeyProviderError(
                "The key provider 'vault' needs SAFEWARD_VAULT_ADDR and SAFEWARD_VAULT_TOKEN "
                "(or SAFEWARD_VAULT_TOKEN_FILE)."
            )
        provider = VaultTransitKeyProvider(
            url=url,
            token=token,
            mount=conf.vault_mount(),
            key_name=conf.vault_key_name(),
            verify=conf.vault_cacert() or True,
        )
        provider.ensure_key()
        return provider
    if not name:
        raise KeyProviderError(
            "No key provider is configured: set SAFEWARD_KEY_PROVIDER to file, env or vault."
        )
    raise KeyProviderError(
        f"Unknown key provider {name!r}: SAFEWARD_KEY_PROVIDER must be file, env or vault."
    )

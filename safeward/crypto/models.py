"""The keyring's storage. Each row is one version of one kind of key, stored
wrapped by the key-encryption key (KEK), which never enters the database: a
dump of this table is useless without the KEK."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class DataKey(models.Model):
    class Purpose(models.TextChoices):
        DATA = "data", "Data encryption (fields, files, secrets)"
        BLIND_INDEX = "blind_index", "Blind-index HMAC"
        SIGNING = "signing", "Ed25519 signing"

    class State(models.TextChoices):
        PRIMARY = "primary", "Primary (encrypts new values)"
        ACTIVE = "active", "Active (decrypts old values only)"
        RETIRED = "retired", "Retired (material destroyed)"

    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    version = models.PositiveIntegerField(help_text="1, 2, 3... per purpose; shown to people.")
    key_id = models.PositiveBigIntegerField(
        unique=True, help_text="Random 32-bit identifier written into every ciphertext header."
    )
    state = models.CharField(max_length=8, choices=State.choices)
    wrapped_key = models.BinaryField(help_text="The key wrapped by the KEK; emptied on retirement.")
    public_key = models.BinaryField(
        blank=True, default=b"", help_text="Signing keys only: raw Ed25519 public key."
    )
    provider = models.CharField(max_length=16, help_text="The KEK provider that wrapped the key.")
    kek_fingerprint = models.CharField(max_length=200, help_text="Public identifier of the wrapping KEK.")
    created_at = models.DateTimeField()
    demoted_at = models.DateTimeField(null=True, blank=True, help_text="When it stopped being primary.")
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["purpose", "version"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="crypto_datakey_one_version"),
            models.UniqueConstraint(
                fields=["purpose"], condition=Q(state="primary"), name="crypto_datakey_one_primary"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} key v{self.version} ({self.state})"

    @property
    def key_id_hex(self) -> str:
        return f"{self.key_id:08x}"

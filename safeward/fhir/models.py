"""What SMART on FHIR adds to django-oauth-toolkit's tables: the launch
context of a token (the one patient a `patient/` scope is pinned to), the
one-time launch codes an EHR launch hands to an app, and the public keys of
backend services (private_key_jwt, RFC 7523). No PHI: ids only."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TokenContext(models.Model):
    """The SMART launch context of one access token."""

    access_token = models.OneToOneField(
        "oauth2_provider.AccessToken", on_delete=models.CASCADE, related_name="smart_context"
    )
    patient_id = models.UUIDField(null=True, blank=True)  # the patient `patient/` scopes are pinned to
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"token context {self.pk}"


class LaunchCode(models.Model):
    """An EHR launch: a signed-in user opened an app for one patient. The
    app passes `launch=<code>` to /o/authorize/; the code is bound to the
    authorization code issued there, then to the access token."""

    code_hash = models.CharField(max_length=64, unique=True)  # SHA-256 of the launch code
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    patient_id = models.UUIDField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    grant_code_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"launch code {self.pk}"


class ClientKey(models.Model):
    """The public key a backend service signs its client assertions with."""

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="smart_key"
    )
    public_key_pem = models.TextField()
    algorithm = models.CharField(max_length=8, default="RS384")  # RS384 or ES384 (SMART backend services)
    kid = models.CharField(
        max_length=200, blank=True, default=""
    )  # the JWK's key id, when registered as a JWKS
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"client key {self.pk}"


class UsedAssertion(models.Model):
    """A client assertion's `jti`, kept until it expires: each is accepted once."""

    application_id = models.BigIntegerField()
    jti = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application_id", "jti"], name="fhir_assertion_once")]

    def __str__(self) -> str:
        return f"used assertion {self.pk}"


class ClientRegistration(models.Model):
    """Who answers for an OAuth client, what it may ask for and when it ends
    (ADR 0606). DOT's Application holds the protocol side; this row is
    SafeWard's: an owner (a person), the scopes the client may ever request,
    an expiry and a revocation, both enforced on every request."""

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="registration"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    allowed_scopes = models.TextField()  # space-separated SMART scopes
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A registered credential check governs this client (a vendor's, ADR 1210):
    # only then does `client_usable` ask it. Set once, never cleared.
    credential_checked = models.BooleanField(default=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )  # null: registered from the command line
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"client registration {self.pk}"

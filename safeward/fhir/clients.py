"""Registering OAuth/SMART clients (ADR 0606): the services that write a
registration (each with its actor and audit event in one transaction), the
selectors that read them, and the checks of what a registration may hold.

A registration pairs django-oauth-toolkit's Application (client id, type,
grant, redirect URIs, hashed secret) with SafeWard's ClientRegistration
(owner, allowed scopes, expiry, revocation) and, for a backend service, the
public key from its JWKS (ClientKey). The request path refuses a client whose
registration is revoked or expired: `client_usable`, called from the OAuth2
validator (authorize, token, every bearer request) and the backend-services
token endpoint."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ValidationError
from django.db import transaction
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.fhir.models import ClientKey, ClientRegistration
from safeward.fhir.smart import SmartScopes
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import bearer_credential_refusal
from safeward.web import json_input

GRANTS = {
    "authorization-code": Application.GRANT_AUTHORIZATION_CODE,
    "client-credentials": Application.GRANT_CLIENT_CREDENTIALS,
}
CLIENT_TYPES = {"public": Application.CLIENT_PUBLIC, "confidential": Application.CLIENT_CONFIDENTIAL}
MAX_LIFETIME = dt.timedelta(days=3 * 365)
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
EC_CURVES = {"P-256": "ES256", "P-384": "ES384"}
MIN_RSA_BITS = 2048


# --- reads ------------------------------------------------------------------------------------------
def client_usable(*, application_id: int, account: User | None = None) -> bool:
    """Whether a client may still authorize, get tokens and use them: not
    revoked, not expired. A client registered before registrations existed
    (no row) is governed by its Application alone. `account`, on a bearer
    request, is the account its token acts for: a credential check governing
    either is asked once for both (ADR 1212)."""
    registrations = ClientRegistration.objects.filter(application_id=application_id)
    row = registrations.values_list("revoked_at", "expires_at", "credential_checked").first()
    if row is None:
        return True
    revoked_at, expires_at, checked = row
    if revoked_at is not None:
        return False
    # A registered credential check governs a flagged client or account
    # (vendors: the agreement behind it, ADR 1210); others never pay for it.
    if (
        bearer_credential_refusal(user=account, application_id=application_id, client_checked=checked)
        is not None
    ):
        return False
    if checked and expires_at <= clock.now():
        # The check may have just applied a renewal that moved the expiry.
        expires_at = registrations.values_list("expires_at", flat=True).first() or expires_at
    return expires_at > clock.now()


def client_allowed_scopes(*, application_id: int) -> list[str] | None:
    """The scopes a registered client may ever ask for (None: no registration)."""
    value = (
        ClientRegistration.objects.filter(application_id=application_id)
        .values_list("allowed_scopes", flat=True)
        .first()
    )
    return None if value is None else value.split()


def clients_list() -> list[ClientRegistration]:
    return list(
        ClientRegistration.objects.select_related("application", "owner", "application__smart_key").order_by(
            "application__name", "pk"
        )
    )


def client_names() -> dict[str, str]:
    """Every registered OAuth client's name by its client id (the asset
    register links a client to the asset it is, ADR 0811)."""
    return dict(
        ClientRegistration.objects.order_by("application__name", "pk").values_list(
            "application__client_id", "application__name"
        )
    )


def client_get(*, registration_id: int) -> ClientRegistration | None:
    return (
        ClientRegistration.objects.select_related("application", "owner", "application__user")
        .filter(pk=registration_id)
        .first()
    )


def client_state(registration: ClientRegistration) -> str:
    if registration.revoked_at is not None:
        return "revoked"
    if registration.expires_at <= clock.now():
        return "expired"
    return "active"


# --- checks -----------------------------------------------------------------------------------------
def redirect_uris_clean(value: str | list[str]) -> list[str]:
    """Absolute https URIs with no fragment. (Loopback http for native apps,
    RFC 8252, would need DOT's ALLOWED_REDIRECT_URI_SCHEMES widened for every
    client; ADR 0606 leaves it out.)"""
    uris = value.split() if isinstance(value, str) else [u.strip() for u in value if u.strip()]
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme != "https" or not parts.hostname or parts.fragment or len(uri) > 500:
            raise ValidationError(
                {"redirect_uris": ["Redirect URIs must be absolute https URIs with no #fragment."]}
            )
    return uris


def scopes_clean(value: str | list[str]) -> list[str]:
    scopes = value.split() if isinstance(value, str) else list(value)
    known = SmartScopes().get_all_scopes()
    unknown = [s for s in scopes if s not in known]
    if unknown or not scopes:
        raise ValidationError(
            {"scopes": [f"Give SMART scopes SafeWard serves; not these: {' '.join(unknown)[:200]}"]}
            if unknown
            else {"scopes": ["Give at least one scope."]}
        )
    return sorted(set(scopes))


@dataclass(frozen=True)
class PublicKey:
    pem: str
    algorithm: str
    kid: str


def jwks_clean(text: str) -> PublicKey:
    """One public RSA (2048 bits or more) or EC (P-256, P-384) key with a
    `kid`, as a JWKS; any private member refuses the whole set."""

    def refuse(message: str) -> ValidationError:
        return ValidationError({"jwks": [message]})

    try:
        document = json_input.loads(text)
    except ValueError:
        raise refuse("The JWKS is not valid JSON.") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or len(keys) != 1 or not isinstance(keys[0], dict):
        raise refuse('Give a JWKS with exactly one key: {"keys": [{...}]}.')
    jwk: dict[str, Any] = keys[0]
    if PRIVATE_JWK_MEMBERS & set(jwk):
        raise refuse("The JWKS holds private key material. Register the public key only.")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid.strip() or len(kid) > 200:
        raise refuse("The key needs a kid (key id).")
    kty = jwk.get("kty")
    key: rsa.RSAPublicKey | rsa.RSAPrivateKey | ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey
    try:
        if kty == "RSA":
            key = RSAAlgorithm.from_jwk(json.dumps(jwk))
            if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
                raise refuse(f"RSA keys must be public and at least {MIN_RSA_BITS} bits.")
            algorithm = "RS256" if jwk.get("alg") == "RS256" else "RS384"
        elif kty == "EC":
            key = ECAlgorithm.from_jwk(json.dumps(jwk))
            if not isinstance(key, ec.EllipticCurvePublicKey) or jwk.get("crv") not in EC_CURVES:
                raise refuse("EC keys must be public, on P-256 or P-384.")
            algorithm = EC_CURVES[str(jwk["crv"])]
        else:
            raise refuse("Only RSA and EC keys are accepted.")
    except ValidationError:
        raise
    except Exception:  # PyJWT raises several kinds for a malformed JWK
        raise refuse("The key could not be read as a JWK.") from None
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return PublicKey(pem=pem, algorithm=algorithm, kid=kid.strip())


def _expiry_clean(expires_at: dt.datetime) -> dt.datetime:
    now = clock.now()
    if expires_at <= now or expires_at > now + MAX_LIFETIME:
        raise ValidationError({"expires_at": ["Give an expiry in the future, at most three years ahead."]})
    return expires_at


def _require(actor: User | None) -> None:
    # None: the operator at the command line (the shell is the boundary there).
    if actor is not None and not actor.has_perm(Perm.FHIR_CLIENT_MANAGE):
        raise ValidationError({"actor": ["Not permitted to manage OAuth clients."]})


def _audit(actor: User | None, registration: ClientRegistration, verb: str, **detail: Any) -> None:
    audit_record(
        action=Action.CONFIG_CHANGE,
        actor=actor,
        actor_username="" if actor is not None else "system:cli",
        resource_type="OAuthClient",
        resource_id=str(registration.application_id),
        detail={"client": verb, "client_id": registration.application.client_id, **detail},
    )


# --- writes -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Registered:
    registration: ClientRegistration
    client_secret: str | None  # shown once; only its hash is stored


def client_register(
    *,
    actor: User | None,
    name: str,
    owner: User,
    grant: str,
    client_type: str,
    scopes: str | list[str],
    expires_at: dt.datetime,
    redirect_uris: str | list[str] = "",
    jwks: str = "",
    service_account: User | None = None,
) -> Registered:
    """Register a SMART app (authorization code + PKCE; public, or
    confidential with a secret shown once) or a backend service (client
    credentials with private_key_jwt: a JWKS and the service account whose
    rights bound its tokens)."""
    _require(actor)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": ["Give the app a name of at most 100 characters."]})
    if grant not in GRANTS or client_type not in CLIENT_TYPES:
        raise ValidationError(
            {"grant": ["Choose authorization-code or client-credentials, public or confidential."]}
        )
    if not owner.is_active:
        raise ValidationError({"owner": ["The owner must be an active account."]})
    allowed = scopes_clean(scopes)
    expires_at = _expiry_clean(expires_at)
    key: PublicKey | None = None
    uris: list[str] = []
    if grant == "client-credentials":
        if client_type != "confidential":
            raise ValidationError({"client_type": ["A backend service is a confidential client."]})
        if not jwks.strip():
            raise ValidationError({"jwks": ["A backend service authenticates with a key: give its JWKS."]})
        if service_account is None or not service_account.is_active:
            raise ValidationError({"service_account": ["Name the active service account it acts as."]})
        if any(not s.startswith("system/") for s in allowed):
            raise ValidationError({"scopes": ["A backend service takes system/ scopes only."]})
        key = jwks_clean(jwks)
    else:
        uris = redirect_uris_clean(redirect_uris)
        if not uris:
            raise ValidationError({"redirect_uris": ["An app needs at least one redirect URI."]})
    secret = generate_client_secret() if client_type == "confidential" and key is None else None
    now = clock.now()
    with transaction.atomic():
        application = Application(
            name=name,
            user=service_account if key is not None else owner,
            client_type=CLIENT_TYPES[client_type],
            authorization_grant_type=GRANTS[grant],
            redirect_uris=" ".join(uris),
            algorithm="",
            # DOT hashes the secret when it saves; a key client never uses one.
            client_secret=secret or generate_client_secret(),
            hash_client_secret=True,
        )
        application.full_clean(exclude=["client_secret", "redirect_uris"])
        application.save()
        registration = ClientRegistration.objects.create(
            application=application,
            owner=owner,
            allowed_scopes=" ".join(allowed),
            expires_at=expires_at,
            registered_by=actor,
            created_at=now,
        )
        if key is not None:
            ClientKey.objects.create(
                application=application,
                public_key_pem=key.pem,
                algorithm=key.algorithm,
                kid=key.kid,
                created_at=now,
            )
        _audit(actor, registration, "register", grant=grant, client_type=client_type, scopes=allowed)
    return Registered(registration=registration, client_secret=secret)


def client_update(
    *,
    actor: User | None,
    registration_id: int,
    name: str,
    owner: User,
    scopes: str | list[str],
    redirect_uris: str | list[str] = "",
    jwks: str = "",
) -> ClientRegistration:
    """Change what a registration says; a new JWKS replaces the key."""
    _require(actor)
    registration = client_get(registration_id=registration_id)
    if registration is None:
        raise ValidationError({"client": ["No such client."]})
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": ["Give the app a name of at most 100 characters."]})
    if not owner.is_active:
        raise ValidationError({"owner": ["The owner must be an active account."]})
    allowed = scopes_clean(scopes)
    application = registration.application
    backend = application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    key = jwks_clean(jwks) if backend and jwks.strip() else None
    uris = [] if backend else redirect_uris_clean(redirect_uris)
    if not backend and not uris:
        raise ValidationError({"redirect_uris": ["An app needs at least one redirect URI."]})
    with transaction.atomic():
        application.name = name
        if not backend:
            application.user = owner
            application.redirect_uris = " ".join(uris)
        application.save(update_fields=["name", "user", "redirect_uris", "updated"])
        registration.owner = owner
        registration.allowed_scopes = " ".join(allowed)
        registration.save(update_fields=["owner", "allowed_scopes"])
        if key is not None:
            ClientKey.objects.update_or_create(
                application=application,
                defaults={
                    "public_key_pem": key.pem,
                    "algorithm": key.algorithm,
                    "kid": key.kid,
                    "created_at": clock.now(),
                },
            )
        _audit(actor, registration, "update", scopes=allowed, key_replaced=key is not None)
    return registration


def client_set_expiry(
    *, actor: User | None, registration_id: int, expires_at: dt.datetime
) -> ClientRegistration:
    _require(actor)
    registration = client_get(registration_id=registration_id)
    if registration is None:
        raise ValidationError({"client": ["No such client."]})
    expires_at = _expiry_clean(expires_at)
    with transaction.atomic():
        registration.expires_at = expires_at
        registration.save(update_fields=["expires_at"])
        _audit(actor, registration, "set_expiry", expires_at=expires_at.isoformat())
    return registration


def client_credential_check_require(*, actor: User | None, registration_id: int, reason: str) -> None:
    """Mark a client as governed by a registered credential check (a vendor's
    client, ADR 1210): from now on `client_usable` asks the check. Never cleared."""
    _require(actor)
    with transaction.atomic():
        registration = client_get(registration_id=registration_id)
        if registration is None:
            raise ValidationError({"client": ["No such client."]})
        if registration.credential_checked:
            return
        registration.credential_checked = True
        registration.save(update_fields=["credential_checked"])
        _audit(actor, registration, "credential_checked", reason=reason[:300])


def client_revoke(*, actor: User | None, registration_id: int, reason: str) -> int:
    """Disable a client for good and revoke its live tokens and grants at
    once; returns how many tokens were revoked."""
    _require(actor)
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise ValidationError({"reason": ["Give a reason of at most 300 characters."]})
    with transaction.atomic():
        registration = (
            ClientRegistration.objects.select_for_update()
            .select_related("application")
            .filter(pk=registration_id)
        ).first()
        if registration is None:
            raise ValidationError({"client": ["No such client."]})
        if registration.revoked_at is not None:
            raise ValidationError({"client": ["This client is already revoked."]})
        registration.revoked_at = clock.now()
        registration.save(update_fields=["revoked_at"])
        application = registration.application
        revoked: int = AccessToken.objects.filter(application=application).delete()[0]
        RefreshToken.objects.filter(application=application).delete()
        Grant.objects.filter(application=application).delete()
        _audit(actor, registration, "revoke", reason=reason, access_ended=revoked)
    return revoked

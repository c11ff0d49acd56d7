"""The vendor register's writes (ADR 1200). Each takes `actor`
(keyword-only; None is the operator at the command line or the sweep), runs
in one transaction and records its audit event in it.

Revocation reuses identity's and fhir's services (the ones workforce
termination uses): `user_deactivate` ends the account and every session,
`user_tokens_revoke` its OAuth tokens, `client_revoke` disables an OAuth
client and deletes its tokens and grants. An agreement's end, termination or
a vendor's suspension or offboarding runs all of them in ONE transaction and
records ONE vendors event that names every credential it ended (the reused
services add their own per-account and per-client events, as at termination).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.fhir import clients as fhir_clients
from safeward.identity import services as identity_services
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.vendors import dates
from safeward.vendors.models import HIPAA_BREACH_NOTICE_MAX_DAYS, Agreement, Credential, Reminder, Vendor

VENDOR = "Vendor"
AGREEMENT = "VendorAgreement"
PHI_CATEGORIES = (
    ("demographics", "Demographics"),
    ("clinical_notes", "Clinical notes and dictation"),
    ("results", "Laboratory and imaging results"),
    ("medications", "Medications"),
    ("billing", "Billing and insurance"),
    ("device_data", "Device data"),
)
PHI_CATEGORY_CODES = {code for code, _ in PHI_CATEGORIES}


class VendorError(ValidationError):
    """A refused vendor operation, with the field the refusal is about."""


def _require(actor: User | None, perm: Perm) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise VendorError({"actor": [f"{perm} is required."]})


def _audit(
    actor: User | None, *, action: Action, resource_type: str, resource_id: int, **detail: Any
) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_username="" if actor is not None else "system:vendors",
        resource_type=resource_type,
        resource_id=resource_id,
        reason=str(detail.pop("reason", ""))[:300],
        detail=detail,
    )


# --- risk ---------------------------------------------------------------------------------------


RISK_TIERS = ("low", "moderate", "high", "critical")
RISK_TIER_CHOICES = [(tier, tier.capitalize()) for tier in RISK_TIERS]
REASSESS_MONTHS = {"low": 36, "moderate": 24, "high": 12, "critical": 6}


def risk_tier(*, phi_volume: str, categories: list[str], credential_kinds: set[str]) -> str:
    """Computed from what the vendor receives and how it reaches us, never typed in."""
    score = {"none": 0, "low": 1, "medium": 2, "high": 3}.get(phi_volume, 0)
    if {"clinical_notes", "results"} & set(categories):
        score += 1
    if Credential.Kind.REMOTE_SUPPORT in credential_kinds:
        score += 2  # hands on a device or a server inside the network
    if Credential.Kind.OAUTH_CLIENT in credential_kinds or Credential.Kind.API_KEY in credential_kinds:
        score += 1
    if Credential.Kind.ACCOUNT in credential_kinds:
        score += 1
    if score <= 1:
        return "low"
    if score <= 3:
        return "moderate"
    if score <= 5:
        return "high"
    return "critical"


# --- vendors ------------------------------------------------------------------------------------


def _categories_clean(categories: list[str]) -> list[str]:
    unknown = sorted(set(categories) - PHI_CATEGORY_CODES)
    if unknown:
        raise VendorError({"phi_categories": [f"Unknown PHI categories: {', '.join(unknown)[:100]}."]})
    return sorted(set(categories))


@transaction.atomic
def vendor_create(
    *,
    actor: User | None,
    name: str,
    legal_name: str,
    owner: User,
    identifiers: str = "",
    services: str = "",
    contacts: str = "",
    phi_categories: list[str] | None = None,
    phi_volume: str = Vendor.Volume.NONE,
) -> Vendor:
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    name, legal_name = (name or "").strip(), (legal_name or "").strip()
    if not name or len(name) > 120:
        raise VendorError({"name": ["Give the vendor a name of at most 120 characters."]})
    if not legal_name or len(legal_name) > 200:
        raise VendorError({"legal_name": ["Give the legal name (at most 200 characters)."]})
    if Vendor.objects.filter(name__iexact=name).exists():
        raise VendorError({"name": ["A vendor with this name is already registered."]})
    if not owner.is_active:
        raise VendorError({"owner": ["The owner must be an active account."]})
    if phi_volume not in Vendor.Volume.values:
        raise VendorError({"phi_volume": ["Choose a PHI volume."]})
    vendor = Vendor.objects.create(
        name=name,
        legal_name=legal_name,
        identifiers=identifiers.strip()[:200],
        services=services.strip()[:4000],
        contacts=contacts.strip()[:4000],
        owner=owner,
        phi_categories=_categories_clean(phi_categories or []),
        phi_volume=phi_volume,
        created_at=clock.now(),
    )
    _audit(actor, action=Action.CREATE, resource_type=VENDOR, resource_id=vendor.pk, vendor=vendor.name)
    return vendor


# --- agreements ---------------------------------------------------------------------------------


def agreement_terms(agreement: Agreement) -> dates.Terms:
    return dates.Terms(
        start_date=agreement.start_date,
        end_date=agreement.end_date,
        tacit=agreement.renewal == Agreement.Renewal.TACIT,
        renewal_months=agreement.renewal_months,
        notice_days=agreement.notice_days,
        notice_given_on=agreement.notice_given_on,
    )


def end_moment(last_day: dt.date) -> dt.datetime:
    """Access ends at midnight after the last day, in the hospital's time zone."""
    zone = timezone.get_default_timezone()
    return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


def today() -> dt.date:
    return timezone.localdate(clock.now())


def agreement_current_end(agreement: Agreement, on: dt.date | None = None) -> dt.date:
    return dates.current_end(agreement_terms(agreement), on or today())


@transaction.atomic
def agreement_create(
    *,
    actor: User | None,
    vendor: Vendor,
    kind: str,
    reference: str,
    start_date: dt.date,
    end_date: dt.date,
    covers_phi: bool,
    renewal: str = Agreement.Renewal.EXPRESS,
    renewal_months: int = 12,
    notice_days: int = 60,
    breach_notice_days: int = 60,
    subcontractors_allowed: bool = False,
    end_of_term: str = Agreement.EndOfTerm.RETURN_OR_DESTROY,
) -> Agreement:
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    errors: dict[str, list[str]] = {}
    reference = (reference or "").strip()
    if not reference or len(reference) > 80:
        errors["reference"] = ["Give the agreement's reference (at most 80 characters)."]
    if kind not in Agreement.Kind.values:
        errors["kind"] = ["Choose BAA, contract or data-use agreement."]
    if renewal not in Agreement.Renewal.values:
        errors["renewal"] = ["Choose tacit or express renewal."]
    if end_of_term not in Agreement.EndOfTerm.values:
        errors["end_of_term"] = ["Choose what happens to PHI at the end."]
    if end_date < start_date:
        errors["end_date"] = ["The end date is before the start date."]
    if not 1 <= renewal_months <= 120:
        errors["renewal_months"] = ["A renewal period of 1 to 120 months."]
    if not 0 <= notice_days <= 730:
        errors["notice_days"] = ["A notice period of 0 to 730 days."]
    if covers_phi and not 1 <= breach_notice_days <= HIPAA_BREACH_NOTICE_MAX_DAYS:
        errors["breach_notice_days"] = [
            "Breach notice to the hospital within 1 to 60 days (HIPAA 164.410 allows at most 60)."
        ]
    if kind == Agreement.Kind.BAA and not covers_phi:
        errors["covers_phi"] = ["A business associate agreement covers PHI."]
    if vendor.status != Vendor.Status.ACTIVE:
        errors["vendor"] = ["The vendor is suspended or offboarded."]
    if errors:
        raise VendorError(errors)
    agreement = Agreement(
        vendor=vendor,
        kind=kind,
        reference=reference,
        covers_phi=covers_phi,
        start_date=start_date,
        end_date=end_date,
        renewal=renewal,
        renewal_months=renewal_months,
        notice_days=notice_days,
        breach_notice_days=breach_notice_days,
        subcontractors_allowed=subcontractors_allowed,
        end_of_term=end_of_term,
        created_at=clock.now(),
        current_end_at=end_moment(end_date),
    )
    agreement.current_end_at = end_moment(agreement_current_end(agreement))
    agreement.save()
    _audit(
        actor,
        action=Action.CREATE,
        resource_type=AGREEMENT,
        resource_id=agreement.pk,
        vendor_id=vendor.pk,
        kind=kind,
        end_date=end_date.isoformat(),
        renewal=renewal,
    )
    return agreement


def agreement_is_current(agreement: Agreement, *, at: dt.datetime | None = None) -> bool:
    now = at or clock.now()
    return (
        agreement.status == Agreement.Status.ACTIVE
        and agreement.vendor.status == Vendor.Status.ACTIVE
        and agreement.start_date <= timezone.localdate(now)
        and now < agreement.current_end_at
    )


@transaction.atomic
def agreement_give_notice(*, actor: User | None, agreement: Agreement, on: dt.date) -> Agreement:
    """Record notice of non-renewal (tacit renewal): the agreement then ends at
    the end of the term whose notice deadline the notice met."""
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    if agreement.renewal != Agreement.Renewal.TACIT:
        raise VendorError({"notice_given_on": ["Only a tacitly renewed agreement needs notice to end."]})
    agreement.notice_given_on = on
    agreement.current_end_at = end_moment(agreement_current_end(agreement))
    agreement.save(update_fields=["notice_given_on", "current_end_at"])
    _cap_credentials(agreement)
    _audit(
        actor,
        action=Action.UPDATE,
        resource_type=AGREEMENT,
        resource_id=agreement.pk,
        notice_given_on=on.isoformat(),
        ends=agreement.current_end_at.isoformat(),
    )
    return agreement


def _cap_credentials(agreement: Agreement) -> None:
    Credential.objects.filter(agreement=agreement, expires_at__gt=agreement.current_end_at).update(
        expires_at=agreement.current_end_at
    )


def _extend_credentials(agreement: Agreement, *, previous: dt.datetime) -> int:
    """A renewal (tacit or express): the live credentials that ran to the old
    end run to the new one, an OAuth client's registration too (fhir's
    `client_set_expiry`, within its three-year bound); those given an earlier
    expiry keep it. Inside the caller's transaction; returns how many moved."""
    live = Credential.objects.select_for_update(of=("self",)).filter(
        agreement=agreement, revoked_at__isnull=True, expires_at=previous
    )
    moved = 0
    for credential in live.order_by("pk"):
        expires_at = agreement.current_end_at
        if credential.client_registration_id is not None:
            expires_at = min(expires_at, clock.now() + fhir_clients.MAX_LIFETIME)
            fhir_clients.client_set_expiry(
                actor=None, registration_id=credential.client_registration_id, expires_at=expires_at
            )
        credential.expires_at = expires_at
        credential.save(update_fields=["expires_at"])
        moved += 1
    return moved


@transaction.atomic
def agreement_renew(*, actor: User | None, agreement: Agreement, end_date: dt.date) -> Agreement:
    """Express renewal: a new last day recorded before the end. The
    credentials that ran to the old end (accounts, OAuth clients and their
    registrations, paths) run to the new one. An agreement that has already
    ended is not revived: its credentials are gone and new ones are bound to
    a new agreement."""
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    locked = Agreement.objects.select_for_update().select_related("vendor").filter(pk=agreement.pk).first()
    if locked is None or locked.status != Agreement.Status.ACTIVE or locked.current_end_at <= clock.now():
        raise VendorError({"agreement": ["This agreement has ended: bind the vendor to a new one."]})
    if locked.vendor.status != Vendor.Status.ACTIVE:
        raise VendorError({"agreement": ["The vendor is suspended or offboarded."]})
    if locked.renewal != Agreement.Renewal.EXPRESS:
        raise VendorError({"renewal": ["A tacitly renewed agreement renews itself until notice is given."]})
    if not isinstance(end_date, dt.date) or end_date <= locked.end_date:
        raise VendorError({"end_date": ["Give a new last day after the current one."]})
    if end_date > locked.end_date + dt.timedelta(days=10 * 366):
        raise VendorError({"end_date": ["Renew for at most ten years at a time."]})
    previous, previous_end = locked.current_end_at, locked.end_date
    locked.end_date = end_date
    locked.current_end_at = end_moment(agreement_current_end(locked))
    locked.save(update_fields=["end_date", "current_end_at"])
    extended = _extend_credentials(locked, previous=previous)
    _audit(
        actor,
        action=Action.UPDATE,
        resource_type=AGREEMENT,
        resource_id=locked.pk,
        vendor_id=locked.vendor_id,
        event="agreement_renewed",
        end_date_before=previous_end.isoformat(),
        end_date=end_date.isoformat(),
        credentials_extended=extended,
    )
    return locked


# --- credentials --------------------------------------------------------------------------------


def _current_phi_agreement(vendor: Vendor, agreement: Agreement | None) -> Agreement:
    if agreement is None or agreement.vendor_id != vendor.pk:
        raise VendorError({"agreement": ["Name a current agreement of this vendor that covers PHI."]})
    if not agreement.covers_phi:
        raise VendorError({"agreement": ["This agreement does not cover PHI: no credential may rest on it."]})
    if not agreement_is_current(agreement):
        raise VendorError({"agreement": ["This agreement is not in force: no credential may rest on it."]})
    return agreement


def _cap(agreement: Agreement, expires_at: dt.datetime | None) -> dt.datetime:
    if expires_at is None or expires_at > agreement.current_end_at:
        return agreement.current_end_at
    if expires_at <= clock.now():
        raise VendorError({"expires_at": ["Give an expiry in the future."]})
    return expires_at


def _audit_credential(actor: User | None, credential: Credential) -> None:
    _audit(
        actor,
        action=Action.CREATE,
        resource_type="VendorCredential",
        resource_id=credential.pk,
        vendor_id=credential.vendor_id,
        agreement_id=credential.agreement_id,
        kind=credential.kind,
        expires_at=credential.expires_at.isoformat(),
    )


@transaction.atomic
def credential_bind_account(
    *,
    actor: User | None,
    vendor: Vendor,
    agreement: Agreement | None,
    user: User,
    expires_at: dt.datetime | None = None,
) -> Credential:
    """Bind a vendor staff account to the agreement that allows it; its
    lifetime is capped by the agreement's end."""
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    agreement = _current_phi_agreement(vendor, agreement)
    if not user.is_active:
        raise VendorError({"user": ["The account is disabled."]})
    if Credential.objects.filter(user=user, revoked_at__isnull=True).exists():
        raise VendorError({"user": ["This account is already bound to a vendor agreement."]})
    credential = Credential.objects.create(
        vendor=vendor,
        agreement=agreement,
        kind=Credential.Kind.ACCOUNT,
        label=user.username,
        user=user,
        expires_at=_cap(agreement, expires_at),
        created_at=clock.now(),
    )
    # From now on every request with the account asks the vendor check (ADR 1210).
    identity_services.user_credential_check_require(actor=None, user=user, reason="vendor credential")
    _audit_credential(actor, credential)
    return credential


@transaction.atomic
def credential_bind_client(
    *, actor: User | None, vendor: Vendor, agreement: Agreement | None, registration_id: int
) -> Credential:
    """Bind a registered OAuth/SMART client (safeward/fhir) to the agreement;
    the registration's expiry is brought down to the agreement's end."""
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    agreement = _current_phi_agreement(vendor, agreement)
    registration = fhir_clients.client_get(registration_id=registration_id)
    if registration is None or fhir_clients.client_state(registration) != "active":
        raise VendorError({"client": ["No such active OAuth client."]})
    application = registration.application
    if Credential.objects.filter(application_id=application.pk, revoked_at__isnull=True).exists():
        raise VendorError({"client": ["This client is already bound to a vendor agreement."]})
    service_account = (
        application.user if application.authorization_grant_type == "client-credentials" else None
    )
    if registration.expires_at > agreement.current_end_at:
        fhir_clients.client_set_expiry(
            actor=None, registration_id=registration.pk, expires_at=agreement.current_end_at
        )
    credential = Credential.objects.create(
        vendor=vendor,
        agreement=agreement,
        kind=Credential.Kind.OAUTH_CLIENT,
        label=application.name[:120],
        user=service_account,
        application_id=application.pk,
        client_registration_id=registration.pk,
        expires_at=min(registration.expires_at, agreement.current_end_at),
        created_at=clock.now(),
    )
    # The client and its service account are checked on every request from now on (ADR 1210).
    fhir_clients.client_credential_check_require(
        actor=None, registration_id=registration.pk, reason="vendor credential"
    )
    if service_account is not None:
        identity_services.user_credential_check_require(
            actor=None, user=service_account, reason="vendor credential"
        )
    _audit_credential(actor, credential)
    return credential


@transaction.atomic
def credential_record_path(
    *,
    actor: User | None,
    vendor: Vendor,
    agreement: Agreement | None,
    kind: str,
    label: str,
    expires_at: dt.datetime | None = None,
) -> Credential:
    """A remote-support path or an API key SafeWard does not issue itself
    (a VPN profile, a pump vendor's support tunnel): recorded, bound and
    capped like the others, and listed for manual removal on revocation."""
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    if kind not in (Credential.Kind.REMOTE_SUPPORT, Credential.Kind.API_KEY):
        raise VendorError({"kind": ["Choose remote-support path or API key."]})
    label = (label or "").strip()
    if not label or len(label) > 120:
        raise VendorError({"label": ["Describe the path in at most 120 characters."]})
    agreement = _current_phi_agreement(vendor, agreement)
    credential = Credential.objects.create(
        vendor=vendor,
        agreement=agreement,
        kind=kind,
        label=label,
        expires_at=_cap(agreement, expires_at),
        created_at=clock.now(),
    )
    _audit_credential(actor, credential)
    return credential


# --- revocation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revocation:
    credentials: int
    accounts_disabled: int
    sessions_ended: int
    tokens_revoked: int
    clients_disabled: int
    paths_to_remove: int

    def detail(self) -> dict[str, int]:
        # "oauth_revoked", as workforce termination names it: the audit trail refuses token-ish keys.
        return {
            "credentials": self.credentials,
            "accounts_disabled": self.accounts_disabled,
            "sessions_ended": self.sessions_ended,
            "oauth_revoked": self.tokens_revoked,
            "clients_disabled": self.clients_disabled,
            "paths_to_remove": self.paths_to_remove,
        }


def _revoke(credentials: list[Credential], *, via: str, reason: str) -> Revocation:
    """End every credential given, with identity's and fhir's services. Runs
    inside the caller's transaction; writes no vendors event itself."""
    now = clock.now()
    accounts = sessions = tokens = clients = paths = 0
    for credential in credentials:
        if credential.kind == Credential.Kind.OAUTH_CLIENT and credential.client_registration_id:
            registration = fhir_clients.client_get(registration_id=credential.client_registration_id)
            if registration is not None and registration.revoked_at is None:
                tokens += fhir_clients.client_revoke(
                    actor=None, registration_id=registration.pk, reason=f"vendor {reason}"[:300]
                )
                clients += 1
        if credential.user is not None:
            user = credential.user
            if user.is_active:
                sessions += identity_services.user_deactivate(actor=None, user=user, reason=f"vendor_{via}")
                accounts += 1
            else:
                sessions += identity_services.user_sessions_end_all(
                    actor=None, user=user, reason="account_disabled"
                )
            tokens += identity_services.user_tokens_revoke(actor=None, user=user, reason=f"vendor_{via}")
        if credential.kind in (Credential.Kind.REMOTE_SUPPORT, Credential.Kind.API_KEY):
            paths += 1
        credential.revoked_at = now
        credential.revoked_via = via[:40]
        credential.revoked_reason = reason[:300]
        credential.save(update_fields=["revoked_at", "revoked_via", "revoked_reason"])
    return Revocation(len(credentials), accounts, sessions, tokens, clients, paths)


def _live(**filters: Any) -> list[Credential]:
    return list(
        Credential.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(revoked_at__isnull=True, **filters)
        .order_by("pk")
    )


def _end_agreement(
    *, actor: User | None, agreement_id: int, status: str, via: str, reason: str
) -> Revocation | None:
    locked = Agreement.objects.select_for_update().filter(pk=agreement_id).first()
    if locked is None or locked.status != Agreement.Status.ACTIVE:
        return None
    now = clock.now()
    locked.status = status
    locked.ended_at = now
    locked.ended_via = via[:40]
    locked.ended_reason = reason[:300]
    locked.save(update_fields=["status", "ended_at", "ended_via", "ended_reason"])
    result = _revoke(_live(agreement_id=locked.pk), via=f"{status}:{via}", reason=reason)
    _audit(
        actor,
        action=Action.UPDATE,
        resource_type=AGREEMENT,
        resource_id=locked.pk,
        reason=reason,
        vendor_id=locked.vendor_id,
        event=f"agreement_{status}",
        via=via,
        **result.detail(),
    )
    return result


@transaction.atomic
def agreement_terminate(*, actor: User | None, agreement: Agreement, reason: str) -> Revocation:
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise VendorError({"reason": ["Give a reason of at most 300 characters."]})
    result = _end_agreement(
        actor=actor,
        agreement_id=agreement.pk,
        status=Agreement.Status.TERMINATED,
        via="manual",
        reason=reason,
    )
    if result is None:
        raise VendorError({"agreement": ["This agreement has already ended."]})
    return result


@transaction.atomic
def agreement_lapse_if_ended(*, agreement_id: int, via: str) -> Revocation | None:
    """The sweep and the request path: if the term in force has ended (tacit
    renewal considered), the agreement lapses and its credentials end. A
    tacitly renewed agreement gets its new end instead. Idempotent."""
    agreement = Agreement.objects.select_for_update().filter(pk=agreement_id).first()
    if agreement is None or agreement.status != Agreement.Status.ACTIVE:
        return None
    current = end_moment(agreement_current_end(agreement))
    if current > clock.now():
        if current != agreement.current_end_at:
            previous = agreement.current_end_at
            agreement.current_end_at = current
            agreement.save(update_fields=["current_end_at"])
            extended = _extend_credentials(agreement, previous=previous)
            _audit(
                None,
                action=Action.UPDATE,
                resource_type=AGREEMENT,
                resource_id=agreement.pk,
                event="agreement_renewed_tacitly",
                ends=current.isoformat(),
                credentials_extended=extended,
            )
        return None
    return _end_agreement(
        actor=None,
        agreement_id=agreement.pk,
        status=Agreement.Status.LAPSED,
        via=via,
        reason=f"agreement ended on {agreement_current_end(agreement).isoformat()}",
    )


def _vendor_status(
    *,
    actor: User | None,
    vendor_id: int,
    status: str,
    reason: str,
    perm: Perm = Perm.VENDOR_VENDOR_MANAGE,
    **detail: Any,
) -> Revocation:
    _require(actor, perm)
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise VendorError({"reason": ["Give a reason of at most 300 characters."]})
    vendor = Vendor.objects.select_for_update().filter(pk=vendor_id).first()
    if vendor is None:
        raise VendorError({"vendor": ["No such vendor."]})
    if vendor.status == status or vendor.status == Vendor.Status.OFFBOARDED:
        raise VendorError({"vendor": [f"The vendor is already {vendor.get_status_display().lower()}."]})
    vendor.status = status
    vendor.status_changed_at = clock.now()
    vendor.status_reason = reason
    vendor.save(update_fields=["status", "status_changed_at", "status_reason"])
    result = _revoke(_live(vendor_id=vendor.pk), via=status, reason=reason)
    if status == Vendor.Status.OFFBOARDED:
        Agreement.objects.filter(vendor=vendor, status=Agreement.Status.ACTIVE).update(
            status=Agreement.Status.TERMINATED,
            ended_at=clock.now(),
            ended_via="offboarding",
            ended_reason=reason,
        )
    _audit(
        actor,
        action=Action.UPDATE,
        resource_type=VENDOR,
        resource_id=vendor.pk,
        reason=reason,
        event=f"vendor_{status}",
        **detail,
        **result.detail(),
    )
    return result


@transaction.atomic
def vendor_suspend(*, actor: User | None, vendor_id: int, reason: str) -> Revocation:
    """Suspend a vendor (an incident, a breach): every credential ends now.
    The incidents app registers this as a containment action."""
    return _vendor_status(actor=actor, vendor_id=vendor_id, status=Vendor.Status.SUSPENDED, reason=reason)


@transaction.atomic
def vendor_suspend_for_incident(*, actor: User, vendor_id: int, incident_id: int) -> Revocation:
    """Containment from an incident case (ADR 1211): the incident handler's
    containment permission, as for locking an account, not the privacy
    officer's register permission; the vendors event names the case."""
    return _vendor_status(
        actor=actor,
        vendor_id=vendor_id,
        status=Vendor.Status.SUSPENDED,
        reason=f"containment from incident {incident_id}",
        perm=Perm.DETECTION_ALERT_CONTAIN,
        incident_id=incident_id,
    )


@transaction.atomic
def vendor_offboard(*, actor: User | None, vendor_id: int, reason: str) -> Revocation:
    return _vendor_status(actor=actor, vendor_id=vendor_id, status=Vendor.Status.OFFBOARDED, reason=reason)


@transaction.atomic
def vendor_reinstate(*, actor: User | None, vendor_id: int, reason: str) -> Vendor:
    """A suspended vendor is active again; its credentials stay ended (new ones are issued)."""
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    vendor = Vendor.objects.select_for_update().filter(pk=vendor_id).first()
    if vendor is None or vendor.status != Vendor.Status.SUSPENDED:
        raise VendorError({"vendor": ["Only a suspended vendor can be reinstated."]})
    vendor.status = Vendor.Status.ACTIVE
    vendor.status_changed_at = clock.now()
    vendor.status_reason = reason[:300]
    vendor.save(update_fields=["status", "status_changed_at", "status_reason"])
    _audit(
        actor, action=Action.UPDATE, resource_type=VENDOR, resource_id=vendor.pk, event="vendor_reinstated"
    )
    return vendor


# --- the request path and the sweep -------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    lapsed: int
    renewed: int
    reminders: int


def vendors_check() -> SweepResult:
    """The daily sweep: lapse ended agreements (the request path already
    refuses their credentials), record tacit renewals, remind owners at 90,
    60 and 30 days before an end."""
    lapsed = renewed = reminders = 0
    now = clock.now()
    on = today()
    for agreement in Agreement.objects.filter(status=Agreement.Status.ACTIVE).select_related("vendor__owner"):
        before = agreement.current_end_at
        if agreement_lapse_if_ended(agreement_id=agreement.pk, via="sweep") is not None:
            lapsed += 1
            continue
        agreement.refresh_from_db(fields=["current_end_at", "status"])
        if agreement.current_end_at != before:
            renewed += 1
        last_day = agreement_current_end(agreement, on)
        for days in dates.reminders_due(last_day, on):
            reminders += _remind(agreement, last_day, days, now)
    return SweepResult(lapsed, renewed, reminders)


@transaction.atomic
def _remind(agreement: Agreement, last_day: dt.date, days: int, now: dt.datetime) -> int:
    _, created = Reminder.objects.get_or_create(
        agreement=agreement, end_date=last_day, days_before=days, defaults={"sent_at": now}
    )
    if not created:
        return 0
    owner = agreement.vendor.owner
    if owner.email:
        send_mail(
            subject=f"SafeWard: {agreement.vendor.name} agreement ends in {days} days",
            message=(
                f"The {agreement.get_kind_display()} {agreement.reference} with {agreement.vendor.name} "
                f"ends on {last_day.isoformat()}. Renew it, or plan the vendor's offboarding: "
                "its accounts and clients stop working at the end."
            ),
            from_email=None,
            recipient_list=[owner.email],
        )
    _audit(
        None,
        action=Action.UPDATE,
        resource_type=AGREEMENT,
        resource_id=agreement.pk,
        event="agreement_reminder",
        days_before=days,
        end_date=last_day.isoformat(),
    )
    return 1

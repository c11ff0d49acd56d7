"""The vendor credential check on the request path (ADR 1200).

Registered into identity from `VendorsConfig.ready()`
(`safeward.identity.selectors.credential_check_register`), so identity never
imports vendors. Identity calls it where a session is validated
(SessionGuardMiddleware), where an account is checked for a bearer request
(`user_account_usable`) and fhir where an OAuth client is checked
(`client_usable`: authorize, token, every bearer request).

Asked only for an account or client the binding flagged
(`credential_checked`, ADR 1210): everyone else pays nothing; a vendor
credential pays one indexed query. When the agreement's term has passed and no sweep
ran, the lapse is applied now (one transaction, as the sweep would) and the
request refused: the next request after the end is refused, whatever the
sweep does.
"""

from __future__ import annotations

from django.db.models import F

from safeward import clock
from safeward.vendors.models import Agreement, Credential, Vendor

REVOKED = "vendor_credential_revoked"
SUSPENDED = "vendor_suspended"
ENDED = "vendor_agreement_ended"
EXPIRED = "vendor_credential_expired"


def credential_refusal(*, user_id: int | None = None, application_id: int | None = None) -> str | None:
    if user_id is not None:
        rows = Credential.objects.filter(user_id=user_id)
    elif application_id is not None:
        rows = Credential.objects.filter(application_id=application_id)
    else:
        return None
    row = (
        rows.order_by(F("revoked_at").asc(nulls_first=True), "-pk")  # a live binding first
        .values_list(
            "revoked_at",
            "expires_at",
            "agreement_id",
            "agreement__status",
            "agreement__current_end_at",
            "vendor_id",
            "vendor__status",
        )
        .first()
    )
    if row is None:
        return None
    revoked_at, expires_at, agreement_id, agreement_status, current_end_at, _vendor_id, vendor_status = row
    if revoked_at is not None:
        return REVOKED
    if vendor_status != Vendor.Status.ACTIVE:
        return SUSPENDED
    if agreement_status != Agreement.Status.ACTIVE:
        return ENDED
    now = clock.now()
    if current_end_at <= now:
        from safeward.vendors import services

        if services.agreement_lapse_if_ended(agreement_id=agreement_id, via="request") is not None:
            return ENDED
        # A tacit renewal moved the end (and the credentials that ran to it).
        expires_at = rows.filter(revoked_at__isnull=True).values_list("expires_at", flat=True).first() or now
    if expires_at <= now:
        return EXPIRED
    return None

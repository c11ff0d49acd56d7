"""The vendor register's reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from safeward import clock
from safeward.vendors import dates, services
from safeward.vendors.models import Agreement, Credential, Vendor


def vendors_list() -> QuerySet[Vendor]:
    return (
        Vendor.objects.select_related("owner").prefetch_related("agreements", "credentials").order_by("name")
    )


def vendor_get(*, vendor_id: int) -> Vendor | None:
    return Vendor.objects.select_related("owner").filter(pk=vendor_id).first()


def vendor_by_name(*, name: str) -> Vendor | None:
    return Vendor.objects.select_related("owner").filter(name__iexact=name[:120]).first()


def agreement_get(*, agreement_id: int) -> Agreement | None:
    return Agreement.objects.select_related("vendor", "vendor__owner").filter(pk=agreement_id).first()


def credentials_of(*, vendor: Vendor) -> list[Credential]:
    return list(
        vendor.credentials.select_related("agreement", "user").order_by("revoked_at", "kind", "label")
    )


def live_credentials(*, vendor: Vendor) -> list[Credential]:
    return [c for c in vendor.credentials.all() if c.revoked_at is None]


@dataclass(frozen=True)
class VendorSummary:
    vendor: Vendor
    risk: str
    agreement_status: str  # "current", "ending" (within 90 days), "none", "ended"
    ends_on: dt.date | None
    days_left: int | None
    live_credentials: int
    next_assessment: dt.date


def _summary(vendor: Vendor) -> VendorSummary:
    now = clock.now()
    today = services.today()
    agreements = list(vendor.agreements.all())
    credentials = list(vendor.credentials.all())
    live = [c for c in credentials if c.revoked_at is None]
    kinds = {c.kind for c in live} or {c.kind for c in credentials}
    risk = services.risk_tier(
        phi_volume=vendor.phi_volume, categories=vendor.phi_categories, credential_kinds=kinds
    )
    current = [
        a
        for a in agreements
        if a.status == Agreement.Status.ACTIVE
        and a.covers_phi
        and a.start_date <= today
        and a.current_end_at > now
    ]
    ends_on = days_left = None
    if current:
        latest = max(current, key=lambda a: a.current_end_at)
        ends_on = services.agreement_current_end(latest, today)
        days_left = (ends_on - today).days
        status = "ending" if days_left <= 90 else "current"
    else:
        status = "ended" if agreements else "none"
    if vendor.status != Vendor.Status.ACTIVE:
        status = vendor.status
    next_assessment = dates.add_months(vendor.created_at.date(), services.REASSESS_MONTHS[risk])
    return VendorSummary(vendor, risk, status, ends_on, days_left, len(live), next_assessment)


def vendor_summaries() -> list[VendorSummary]:
    return [_summary(vendor) for vendor in vendors_list()]


def vendor_summary(*, vendor: Vendor) -> VendorSummary:
    return _summary(vendor)


def vendor_id_for_user(*, user_id: int) -> int | None:
    return Credential.objects.filter(user_id=user_id).values_list("vendor_id", flat=True).first()

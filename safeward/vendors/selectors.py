"""The vendor register's reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from safeward import clock
from safeward.audit.selectors import MonthlyTouch, Tenure, patient_touch_by_month
from safeward.vendors import dates, services
from safeward.vendors.models import Agreement, AgreementDocument, Credential, Questionnaire, Vendor


def _signed_off() -> QuerySet[Questionnaire]:
    return Questionnaire.objects.filter(status=Questionnaire.Status.SIGNED_OFF).order_by(
        "-reviewed_at", "-pk"
    )


def vendors_list() -> QuerySet[Vendor]:
    return (
        Vendor.objects.select_related("owner")
        .prefetch_related(
            "agreements",
            "credentials",
            Prefetch("questionnaires", queryset=_signed_off(), to_attr="signed_off"),
        )
        .order_by("name")
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
    risk: str  # the latest current assessment's tier, else the inherent tier
    agreement_status: str  # "current", "ending" (within 90 days), "none", "ended"
    ends_on: dt.date | None
    days_left: int | None
    live_credentials: int
    next_assessment: dt.date
    inherent_risk: str  # computed from the vendor's data and access alone
    # The latest signed-off questionnaire, and whether it still counts:
    # "current" until its next assessment date, then "overdue"; "none".
    assessment: Questionnaire | None
    assessment_state: str


def _latest_signed_off(vendor: Vendor) -> Questionnaire | None:
    prefetched = getattr(vendor, "signed_off", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return _signed_off().filter(vendor=vendor).first()


def _summary(vendor: Vendor) -> VendorSummary:
    now = clock.now()
    today = services.today()
    agreements = list(vendor.agreements.all())
    credentials = list(vendor.credentials.all())
    live = [c for c in credentials if c.revoked_at is None]
    kinds = {c.kind for c in live} or {c.kind for c in credentials}
    inherent = services.risk_tier(
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
    # An answered questionnaire waiting for review does not count, nor one
    # whose next assessment date has come: the risk falls back to the inherent tier.
    assessment = _latest_signed_off(vendor)
    if assessment is None or assessment.next_assessment_on is None:
        assessment_state, risk = "none", inherent
        next_assessment = dates.add_months(vendor.created_at.date(), services.REASSESS_MONTHS[inherent])
    else:
        next_assessment = assessment.next_assessment_on
        assessment_state = "current" if next_assessment > today else "overdue"
        risk = assessment.tier if assessment_state == "current" else inherent
    return VendorSummary(
        vendor,
        risk,
        status,
        ends_on,
        days_left,
        len(live),
        next_assessment,
        inherent,
        assessment,
        assessment_state,
    )


def vendor_summaries() -> list[VendorSummary]:
    return [_summary(vendor) for vendor in vendors_list()]


def vendor_summary(*, vendor: Vendor) -> VendorSummary:
    return _summary(vendor)


def vendor_id_for_user(*, user_id: int) -> int | None:
    return Credential.objects.filter(user_id=user_id).values_list("vendor_id", flat=True).first()


@dataclass(frozen=True)
class OffboardingItem:
    label: str
    done: bool
    detail: str


def offboarding_checklist(*, vendor: Vendor) -> list[OffboardingItem]:
    """Verified from live state, never ticked by hand: every credential ended,
    no account usable or signed in, no OAuth token or client alive, the paths
    SafeWard does not issue listed for removal."""
    from oauth2_provider.models import AccessToken, RefreshToken

    from safeward.fhir import clients as fhir_clients
    from safeward.identity.selectors import user_sessions_active

    credentials = list(vendor.credentials.select_related("user"))
    live = [c for c in credentials if c.revoked_at is None]
    users = [c.user for c in credentials if c.user is not None]
    active_accounts = [u.username for u in users if u.is_active]
    sessions = sum(user_sessions_active(user=u).count() for u in users)
    application_ids = [c.application_id for c in credentials if c.application_id]
    tokens = (
        AccessToken.objects.filter(application_id__in=application_ids).count()
        + AccessToken.objects.filter(user__in=users).count()
        + RefreshToken.objects.filter(application_id__in=application_ids, revoked__isnull=True).count()
    )
    clients_alive = [
        c.label
        for c in credentials
        if c.client_registration_id
        and (r := fhir_clients.client_get(registration_id=c.client_registration_id)) is not None
        and fhir_clients.client_state(r) == "active"
    ]
    paths = [
        c.label for c in credentials if c.kind in (Credential.Kind.REMOTE_SUPPORT, Credential.Kind.API_KEY)
    ]
    return [
        OffboardingItem("Every credential ended", not live, f"{len(live)} live" if live else "none live"),
        OffboardingItem(
            "No vendor account usable", not active_accounts, ", ".join(active_accounts) or "all disabled"
        ),
        OffboardingItem("No session open", sessions == 0, f"{sessions} open"),
        OffboardingItem("No OAuth token alive", tokens == 0, f"{tokens} alive"),
        OffboardingItem(
            "OAuth clients disabled", not clients_alive, ", ".join(clients_alive) or "all disabled"
        ),
        OffboardingItem(
            "Remote-support paths and keys removed at their systems (listed for the owner)",
            not live,
            ", ".join(paths) or "none recorded",
        ),
    ]


def vendor_tenures(*, vendor_id: int) -> tuple[list[Tenure[int]], list[Tenure[str]]]:
    """The accounts and OAuth clients a vendor holds or held (revoked ones
    too: what they did still counts), each with the time it was the
    vendor's: from its binding (`created_at`) until its revocation, if any."""
    from oauth2_provider.models import Application

    credentials = list(Credential.objects.filter(vendor_id=vendor_id).order_by("pk"))
    application_ids = [c.application_id for c in credentials if c.application_id]
    client_ids = dict(Application.objects.filter(pk__in=application_ids).values_list("pk", "client_id"))
    accounts = [Tenure(c.user_id, c.created_at, c.revoked_at) for c in credentials if c.user_id]
    clients = [
        Tenure(client_ids[c.application_id], c.created_at, c.revoked_at)
        for c in credentials
        if c.application_id in client_ids
    ]
    return accounts, clients


def vendor_touch(*, vendor: Vendor) -> list[MonthlyTouch]:
    """What the vendor's accounts and clients did to patient records, per month
    (counts only; patient lists only through the clinical gateway), each only
    while it was the vendor's (ADR 1219): not an account's earlier work for
    the hospital, nor anything after the vendor let it go."""
    accounts, clients = vendor_tenures(vendor_id=vendor.pk)
    return patient_touch_by_month(accounts=accounts, clients=clients)


def document_get(*, document_id: int) -> AgreementDocument | None:
    return AgreementDocument.objects.select_related("agreement").filter(pk=document_id).first()


def questionnaires_list(*, vendor: Vendor | None = None) -> QuerySet[Questionnaire]:
    rows = Questionnaire.objects.select_related("vendor", "sent_by", "reviewed_by")
    return rows.filter(vendor=vendor) if vendor is not None else rows


def questionnaire_get(*, questionnaire_id: int) -> Questionnaire | None:
    return questionnaires_list().prefetch_related("evidence").filter(pk=questionnaire_id).first()

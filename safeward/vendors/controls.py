"""The vendor register's control tests (safeward/compliance.py).

* `vendors.credentials_under_current_agreement`: every live vendor credential
  rests on an agreement in force that covers PHI, and expires no later.
* `vendors.baa_current`: every active vendor that receives PHI has a BAA in force.
* `vendors.breach_notice_within_hipaa`: every BAA in force asks for breach
  notice within 60 days (HIPAA 164.410).
* `vendors.credentials_checked_on_request`: every live vendor account and
  OAuth client is flagged for the request-path check (ADR 1210); one that is
  not would be refused only by the daily sweep.
* `vendors.assessment_current`: every active vendor that receives PHI has a
  signed-off security questionnaire whose next assessment date has not come
  (an answered one waiting for review does not count; ADR 1213).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

from safeward.compliance import Check, control
from safeward.vendors.models import (
    HIPAA_BREACH_NOTICE_MAX_DAYS,
    Agreement,
    Credential,
    Questionnaire,
    Vendor,
)


def _in_force(agreement: Agreement, now: dt.datetime) -> bool:
    return (
        agreement.status == Agreement.Status.ACTIVE
        and agreement.start_date <= timezone.localdate(now)
        and agreement.current_end_at > now
    )


@control(
    "vendors.credentials_under_current_agreement",
    title="Every vendor credential rests on a current agreement covering PHI and ends with it",
    maps=(
        "hipaa:164.308(b)(1)",
        "hipaa:164.314(a)(1)",
        "iso27001-2022:A.5.19",
        "iso27001-2022:A.5.20",
        "csf2:GV.SC-05",
        "csf2:GV.SC-10",
    ),
)
def credentials_under_current_agreement(now: dt.datetime) -> Iterator[Check]:
    live = Credential.objects.filter(revoked_at__isnull=True).select_related("agreement", "vendor")
    for credential in live.order_by("pk"):
        agreement = credential.agreement
        yield Check(
            "vendor_credential",
            str(credential.pk),
            f"{credential.vendor.name}: {credential.label}",
            passed=credential.vendor.status == Vendor.Status.ACTIVE
            and agreement.covers_phi
            and _in_force(agreement, now)
            and credential.expires_at <= agreement.current_end_at,
            evidence={
                "kind": credential.kind,
                "agreement": agreement.reference,
                "agreement_status": agreement.status,
                "agreement_in_force_until": agreement.current_end_at.isoformat(),
                "expires_at": credential.expires_at.isoformat(),
            },
        )


@control(
    "vendors.baa_current",
    title="Every vendor that receives PHI has a business associate agreement in force",
    maps=("hipaa:164.308(b)(1)", "hipaa:164.314(a)(1)", "iso27001-2022:A.5.20", "csf2:GV.SC-05"),
)
def baa_current(now: dt.datetime) -> Iterator[Check]:
    for vendor in Vendor.objects.filter(status=Vendor.Status.ACTIVE).prefetch_related("agreements"):
        receives_phi = (
            vendor.phi_volume != Vendor.Volume.NONE
            or vendor.credentials.filter(revoked_at__isnull=True).exists()
        )
        if not receives_phi:
            continue
        baas = [a for a in vendor.agreements.all() if a.kind == Agreement.Kind.BAA and _in_force(a, now)]
        yield Check(
            "vendor",
            str(vendor.pk),
            vendor.name,
            passed=bool(baas),
            evidence={
                "baa": [a.reference for a in baas],
                "in_force_until": max((a.current_end_at for a in baas), default=None)
                and max(a.current_end_at for a in baas).isoformat(),
            },
        )


@control(
    "vendors.breach_notice_within_hipaa",
    title="Every BAA in force requires breach notice within 60 days",
    maps=("hipaa:164.314(a)(2)(i)", "iso27001-2022:A.5.20", "csf2:GV.SC-05"),
)
def breach_notice_within_hipaa(now: dt.datetime) -> Iterator[Check]:
    agreements = Agreement.objects.filter(
        kind=Agreement.Kind.BAA, status=Agreement.Status.ACTIVE
    ).select_related("vendor")
    for agreement in agreements.order_by("pk"):
        if not _in_force(agreement, now):
            continue
        yield Check(
            "vendor_agreement",
            str(agreement.pk),
            f"{agreement.vendor.name}: {agreement.reference}",
            passed=1 <= agreement.breach_notice_days <= HIPAA_BREACH_NOTICE_MAX_DAYS,
            evidence={"breach_notice_days": agreement.breach_notice_days},
        )


@control(
    "vendors.flows_have_agreements",
    title="Every month a vendor touched patient records, an agreement covering PHI was in force",
    maps=("hipaa:164.308(b)(1)", "hipaa:164.314(a)(1)", "iso27001-2022:A.5.21", "csf2:GV.SC-07"),
)
def flows_have_agreements(now: dt.datetime) -> Iterator[Check]:
    from safeward.vendors import selectors

    for vendor in Vendor.objects.prefetch_related("agreements", "credentials").order_by("name"):
        months = selectors.vendor_touch(vendor=vendor)
        if not months:
            continue
        covered = [
            (a.start_date, (a.ended_at or a.current_end_at).date())
            for a in vendor.agreements.all()
            if a.covers_phi
        ]
        uncovered = [
            m.month.isoformat()[:7]
            for m in months
            if not any(start <= _month_end(m.month) and end >= m.month for start, end in covered)
        ]
        yield Check(
            "vendor",
            str(vendor.pk),
            vendor.name,
            passed=not uncovered,
            evidence={
                "months": [m.month.isoformat()[:7] for m in months],
                "patients_touched": sum(m.patients for m in months),
                "months_without_agreement": uncovered,
            },
        )


def _month_end(first: dt.date) -> dt.date:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


@control(
    "vendors.credentials_checked_on_request",
    title="Every live vendor account and OAuth client is checked against its agreement on each request",
    maps=("hipaa:164.308(b)(1)", "iso27001-2022:A.5.20", "csf2:GV.SC-10"),
)
def credentials_checked_on_request(now: dt.datetime) -> Iterator[Check]:
    from safeward.fhir.selectors import registrations_credential_checked

    live = list(
        Credential.objects.filter(revoked_at__isnull=True).select_related("vendor", "user").order_by("pk")
    )
    checked = registrations_credential_checked(
        registration_ids=[c.client_registration_id for c in live if c.client_registration_id is not None]
    )
    for credential in live:
        if credential.user is None and credential.client_registration_id is None:
            continue  # a path or key SafeWard does not issue: nothing on its request path
        account_flagged = credential.user is None or credential.user.credential_checked
        client_flagged = credential.client_registration_id is None or checked.get(
            credential.client_registration_id, False
        )
        yield Check(
            "vendor_credential",
            str(credential.pk),
            f"{credential.vendor.name}: {credential.label}",
            passed=account_flagged and client_flagged,
            evidence={
                "kind": credential.kind,
                "account_checked": account_flagged,
                "client_checked": client_flagged,
            },
        )


@control(
    "vendors.assessment_current",
    title="Every vendor that receives PHI has a current, signed-off security assessment",
    maps=("hipaa:164.308(b)(1)", "iso27001-2022:A.5.22", "csf2:GV.SC-07"),
)
def assessment_current(now: dt.datetime) -> Iterator[Check]:
    today = timezone.localdate(now)
    vendors = Vendor.objects.filter(status=Vendor.Status.ACTIVE).order_by("name")
    for vendor in vendors:
        if (
            vendor.phi_volume == Vendor.Volume.NONE
            and not vendor.credentials.filter(revoked_at__isnull=True).exists()
        ):
            continue
        latest = (
            vendor.questionnaires.filter(status=Questionnaire.Status.SIGNED_OFF)
            .order_by("-reviewed_at", "-pk")
            .first()
        )
        due = latest.next_assessment_on if latest is not None else None
        yield Check(
            "vendor",
            str(vendor.pk),
            vendor.name,
            passed=due is not None and due > today,
            evidence={
                "questionnaire": latest.pk if latest is not None else None,
                "score": latest.score if latest is not None else None,
                "tier": latest.tier if latest is not None else None,
                "signed_off_at": latest.reviewed_at.isoformat() if latest and latest.reviewed_at else None,
                "next_assessment_on": due.isoformat() if due is not None else None,
            },
        )

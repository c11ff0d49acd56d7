"""Facilities control tests (safeward/compliance.py).

* `facilities.disposals_certified`: every item that left the hospital has a
  certificate validated by a second person before it left.
* `facilities.terminated_badges_recovered`: no badge of a person who has left
  still opens doors; badges on the recovery list are checked per badge.
* `facilities.secure_area_authorisations_current`: each secure area's personal
  authorisations name only people still active.
* `facilities.visitors_signed_out`: each visitor still in is within the expected
  length of the visit (plus the overstay rule's grace).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.compliance import Check, control
from safeward.facilities.models import Area, Authorisation, Badge, Certificate, Visitor


@control(
    "facilities.disposals_certified",
    title="Nothing left the hospital without a validated certificate of sanitization",
    maps=("hipaa:164.310(d)(1)", "hipaa:164.310(d)(2)(i)", "hipaa:164.310(d)(2)(ii)", "iso27001-2022:A.7.14",
          "iso27001-2022:A.7.10", "hicp:5.M.D", "csf2:PR.DS-01"),
)  # fmt: skip
def disposals_certified(now: dt.datetime) -> Iterator[Check]:
    for certificate in Certificate.objects.filter(disposed_at__isnull=False).select_related("medium"):
        validated = (
            certificate.validated_at is not None
            and certificate.validator_id is not None
            and certificate.validator_id != certificate.operator_id
            and certificate.validated_at <= (certificate.disposed_at or now)
        )
        yield Check(
            "certificate",
            str(certificate.pk),
            certificate.media_property_number,
            passed=validated,
            evidence={
                "device_id": certificate.device_id,
                "method": certificate.method,
                "standard": certificate.standard,
                "validated_at": certificate.validated_at.isoformat() if certificate.validated_at else None,
                "disposed_at": certificate.disposed_at.isoformat() if certificate.disposed_at else None,
            },
        )


@control(
    "facilities.terminated_badges_recovered",
    title="Badges of people who have left no longer open doors",
    maps=("hipaa:164.310(a)(1)", "hipaa:164.310(a)(2)(iii)", "iso27001-2022:A.7.2", "csf2:PR.AA-06",
          "hicp:6.S.B"),
)  # fmt: skip
def terminated_badges_recovered(now: dt.datetime) -> Iterator[Check]:
    from safeward.workforce.selectors import people_brief

    badges = list(Badge.objects.all())
    people = people_brief(person_ids={b.person_id for b in badges})
    for badge in badges:
        person = people.get(badge.person_id)
        left = person is None or person.status == "terminated"
        if not left and badge.status == Badge.Status.ACTIVE:
            continue
        yield Check(
            "badge",
            str(badge.pk),
            badge.credential_id,
            passed=badge.status == Badge.Status.REVOKED,
            evidence={"person_id": badge.person_id, "status": badge.status},
        )


@control(
    "facilities.secure_area_authorisations_current",
    title="Secure-area authorisations name only people still active",
    maps=("hipaa:164.310(a)(1)", "hipaa:164.310(a)(2)(iii)", "iso27001-2022:A.7.2", "iso27001-2022:A.7.3",
          "csf2:PR.AA-06", "hicp:6.S.B"),
)  # fmt: skip
def secure_area_authorisations_current(now: dt.datetime) -> Iterator[Check]:
    from safeward.workforce.selectors import people_brief

    grants = list(Authorisation.objects.filter(person_id__isnull=False))
    people = people_brief(person_ids={a.person_id for a in grants if a.person_id is not None})
    stale: dict[int, list[int]] = {}
    for grant in grants:
        person = people.get(grant.person_id or 0)
        if person is None or person.status == "terminated":
            stale.setdefault(grant.area_id, []).append(grant.person_id or 0)
    for area in Area.objects.filter(secure=True):
        yield Check(
            "area",
            str(area.pk),
            area.code,
            passed=area.pk not in stale,
            evidence={"stale_person_ids": sorted(stale.get(area.pk, []))},
        )


@control(
    "facilities.visitors_signed_out",
    title="Visitors sign out by the end of their visit",
    maps=("hipaa:164.310(a)(2)(iii)", "iso27001-2022:A.7.2", "hicp:6.S.B", "csf2:PR.AA-06"),
)
def visitors_signed_out(now: dt.datetime) -> Iterator[Check]:
    from safeward.detection.selectors import rule_config

    grace = dt.timedelta(minutes=int(rule_config(code="visitor_overstay").params["grace_minutes"]))
    for visitor in Visitor.objects.filter(signed_out_at__isnull=True):
        ends = visitor.signed_in_at + dt.timedelta(minutes=visitor.expected_minutes) + grace
        yield Check(
            "visitor",
            str(visitor.pk),
            f"visitor badge {visitor.badge_number}",
            passed=ends >= now,
            evidence={
                "signed_in_at": visitor.signed_in_at.isoformat(),
                "expected_minutes": visitor.expected_minutes,
            },
        )

"""The navigation: each entry shows only to people holding its permission.
Apps add entries here as they arrive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from safeward.identity.permissions import Perm


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: Perm | None  # None: every signed-in person


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Dashboard", "web:dashboard", None),
    NavItem("Users", "identity:user_list", Perm.IDENTITY_USER_VIEW),
    NavItem("Approvals", "identity:approvals", Perm.IDENTITY_ROLE_APPROVE),
    NavItem("Network zones", "identity:zones", Perm.IDENTITY_ZONE_MANAGE),
    NavItem("My sessions", "identity:my_sessions", None),
    NavItem("Keys", "crypto:keys", Perm.CRYPTO_KEY_READ),
    NavItem("OAuth clients", "oauth_clients:list", Perm.FHIR_CLIENT_MANAGE),
    NavItem("Workforce", "workforce:people", Perm.WORKFORCE_PERSON_READ),
    NavItem("My training & reviews", "workforce:me", None),
    NavItem("Audit report", "audit:report", Perm.AUDIT_EVENT_READ),
    NavItem("Disclosures", "audit:disclosures", Perm.AUDIT_DISCLOSURE_READ),
    NavItem("Patients", "clinical:search", Perm.CLINICAL_PATIENT_READ),
    NavItem("Schedule", "clinical:schedule", Perm.CLINICAL_APPOINTMENT_READ),
    NavItem("Lab worklist", "clinical:lab_worklist", Perm.CLINICAL_RESULT_WRITE),
    NavItem("Wards", "clinical:wards", Perm.CLINICAL_CENSUS_READ),
    NavItem("Break-glass review", "clinical:review_queue", Perm.CLINICAL_BREAKGLASS_REVIEW),
    NavItem("Alerts", "detection:alerts", Perm.DETECTION_ALERT_TRIAGE),
    NavItem("Access reviews", "detection:reviews", Perm.DETECTION_ACCESS_REVIEW),
    NavItem("Incidents", "incidents:list", Perm.INCIDENT_RECORD_MANAGE),
    NavItem("Detection rules", "detection:rules", Perm.SECURITY_CONFIG_MANAGE),
    NavItem("Session policy", "identity:session_policy", Perm.SECURITY_CONFIG_MANAGE),
)


def navigation_for(user: Any) -> list[dict[str, str]]:
    if not getattr(user, "is_authenticated", False):
        return []
    items = []
    for item in NAVIGATION:
        if item.permission is not None and not user.has_perm(item.permission):
            continue
        try:
            items.append({"label": item.label, "url": reverse(item.url_name)})
        except NoReverseMatch:
            continue
    return items

"""The navigation: each entry shows only to people holding its permission.
Apps add entries here as they arrive."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_permissions

# Menus of the top bar. Entries without one show in the bar itself; a menu
# holding a single entry for someone shows as that entry (so the bar stays
# one row for the roles with the most pages). ME goes beside the account.
AUDIT = "Audit"
SETTINGS = "Settings"
ASSETS = "Assets"
COMPLIANCE = "Compliance"
POLICIES = "Policies"
DEVICES = "Devices"
FACILITIES = "Facilities"
ME = "My account"


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: Perm | None  # None: every signed-in person
    menu: str = ""


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Dashboard", "web:dashboard", None),
    NavItem("Users", "identity:user_list", Perm.IDENTITY_USER_VIEW, SETTINGS),
    NavItem("Approvals", "identity:approvals", Perm.IDENTITY_ROLE_APPROVE, SETTINGS),
    NavItem("Network zones", "identity:zones", Perm.IDENTITY_ZONE_MANAGE, SETTINGS),
    NavItem("Wards and beds", "clinical:ward_setup", Perm.FACILITY_WARD_MANAGE, SETTINGS),
    NavItem("My sessions", "identity:my_sessions", None, ME),
    NavItem("Keys", "crypto:keys", Perm.CRYPTO_KEY_READ, SETTINGS),
    NavItem("OAuth clients", "oauth_clients:list", Perm.FHIR_CLIENT_MANAGE, SETTINGS),
    NavItem("Workforce", "workforce:people", Perm.WORKFORCE_PERSON_READ),
    NavItem("My training & reviews", "workforce:me", None, ME),
    NavItem("My acknowledgements", "policies:mine", None, ME),
    NavItem("Audit report", "audit:report", Perm.AUDIT_EVENT_READ, AUDIT),
    NavItem("Disclosures", "audit:disclosures", Perm.AUDIT_DISCLOSURE_READ, AUDIT),
    NavItem("Patients", "clinical:search", Perm.CLINICAL_PATIENT_READ),
    NavItem("Schedule", "clinical:schedule", Perm.CLINICAL_APPOINTMENT_READ),
    NavItem("Lab worklist", "clinical:lab_worklist", Perm.CLINICAL_RESULT_WRITE),
    NavItem("Orders to verify", "clinical:pharmacy_worklist", Perm.CLINICAL_MEDICATION_DISPENSE),
    NavItem("Wards", "clinical:wards", Perm.CLINICAL_CENSUS_READ),
    NavItem("Downtime kits", "continuity:kits", Perm.CONTINUITY_KIT_READ),
    NavItem("Break-glass review", "clinical:review_queue", Perm.AUDIT_REVIEW_READ, AUDIT),
    NavItem("Alerts", "detection:alerts", Perm.DETECTION_ALERT_READ),
    NavItem("Access reviews", "detection:reviews", Perm.AUDIT_REVIEW_READ, AUDIT),
    NavItem("Incidents", "incidents:list", Perm.INCIDENT_RECORD_READ),
    NavItem("Asset register", "assets:list", Perm.ASSETS_ASSET_READ, ASSETS),
    NavItem("Export manifests", "assets:manifests", Perm.ASSETS_MANIFEST_READ, ASSETS),
    NavItem("PHI findings", "assets:findings", Perm.ASSETS_FINDING_READ, ASSETS),
    NavItem("Vulnerabilities", "patching:dashboard", Perm.PATCHING_FINDING_READ, ASSETS),
    NavItem("Control tests", "assessments:dashboard", Perm.ASSESSMENT_RESULT_READ, COMPLIANCE),
    NavItem("Assessments", "campaigns:list", Perm.ASSESSMENT_RESULT_READ, COMPLIANCE),
    NavItem("Risk register", "risks:list", Perm.ASSESSMENT_RESULT_READ, COMPLIANCE),
    NavItem("Vendors", "vendors:list", Perm.VENDOR_VENDOR_READ, COMPLIANCE),
    NavItem("Device inventory", "devices:list", Perm.DEVICES_DEVICE_READ, DEVICES),
    NavItem("Segments and flows", "devices:segments", Perm.DEVICES_DEVICE_READ, DEVICES),
    NavItem("MDS2 statements", "devices:mds2_list", Perm.DEVICES_DEVICE_READ, DEVICES),
    NavItem("Compensating controls", "devices:controls", Perm.DEVICES_DEVICE_READ, DEVICES),
    NavItem("Business continuity", "continuity:dashboard", Perm.CONTINUITY_STATUS_READ, COMPLIANCE),
    NavItem("Policy library", "policies:library", None, POLICIES),
    NavItem("Acknowledgement campaigns", "policies:campaigns", Perm.POLICY_DOCUMENT_MANAGE, POLICIES),
    NavItem("Secure areas", "facilities:areas", Perm.FACILITY_AREA_READ, FACILITIES),
    NavItem("Visitor desk", "facilities:visitors", Perm.FACILITY_VISITOR_MANAGE, FACILITIES),
    NavItem("Flagged visitors", "facilities:visitors_flagged", Perm.FACILITY_VISITOR_READ, FACILITIES),
    NavItem("Secure workstations", "facilities:workstations", Perm.DETECTION_ALERT_READ, FACILITIES),
    NavItem("Custody log", "facilities:custody", Perm.FACILITY_CUSTODY_READ, FACILITIES),
    NavItem("Disposal queue", "facilities:disposals", Perm.FACILITY_CUSTODY_READ, FACILITIES),
    NavItem("Detection rules", "detection:rules", Perm.SECURITY_CONFIG_MANAGE, SETTINGS),
    NavItem("Session policy", "identity:session_policy", Perm.SECURITY_CONFIG_MANAGE, SETTINGS),
)


@functools.cache
def _reversed(prefix: str, urlconf: str) -> tuple[tuple[NavItem, str], ...]:
    """Every entry with its URL, reversed once per process for each script
    prefix (SCRIPT_NAME, which `reverse` prepends) and URLconf: neither
    changes what an entry's URL is while the process runs. An entry whose
    view is not routed in `urlconf` is left out, as before."""
    found = []
    for item in NAVIGATION:
        try:
            found.append((item, reverse(item.url_name, urlconf=urlconf)))
        except NoReverseMatch:
            continue
    return tuple(found)


# The base template's own links: the brand, the account menu, sign-out.
LINKS = {
    "dashboard": "web:dashboard",
    "login": "account_login",
    "mfa": "mfa_index",
    "logout": "account_logout",
}


@functools.cache
def _links(prefix: str, urlconf: str) -> dict[str, str]:
    return {key: reverse(name, urlconf=urlconf) for key, name in LINKS.items()}


def page_links() -> dict[str, str]:
    """`LINKS` reversed, once per process and prefix, like the entries."""
    return _links(*_where())


def _where() -> tuple[str, str]:
    """The script prefix and URLconf this request reverses with."""
    return get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF


def _granted(user: Any) -> frozenset[str]:
    """What `user.has_perm` grants, read once (it asks per permission)."""
    if not (user.is_active and user.locked_at is None):
        return frozenset()
    return user_permissions(user=user)


def navigation_for(user: Any) -> list[dict[str, str]]:
    if not getattr(user, "is_authenticated", False):
        return []
    return _navigation(_granted(user), *_where())


def _navigation(granted: frozenset[str], prefix: str, urlconf: str) -> list[dict[str, str]]:
    return [
        {"label": item.label, "url": url, "menu": item.menu}
        for item, url in _reversed(prefix, urlconf)
        if item.permission is None or item.permission in granted
    ]


@functools.lru_cache(maxsize=256)
def _page_menu(granted: frozenset[str], prefix: str, urlconf: str) -> dict[str, list[dict[str, Any]]]:
    return menu_bar(_navigation(granted, prefix, urlconf))


def page_menu(user: Any) -> dict[str, list[dict[str, Any]]]:
    """`menu_bar(navigation_for(user))` for the page's top bar, built once
    per permission set and prefix and shared between requests: it depends
    on nothing else. Callers must not change it."""
    if not getattr(user, "is_authenticated", False):
        return menu_bar([])
    return _page_menu(_granted(user), *_where())


def menu_bar(items: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """The top bar from `navigation_for`'s entries: `bar` holds links and
    menus (`{"label", "children"}`) in the order they first appear; `account`
    the entries of the ME menu."""
    bar: list[dict[str, Any]] = []
    menus: dict[str, dict[str, Any]] = {}
    account = [item for item in items if item["menu"] == ME]
    for item in items:
        menu = item["menu"]
        if menu == ME:
            continue
        if not menu or sum(1 for other in items if other["menu"] == menu) == 1:
            bar.append(item)
        elif menu not in menus:
            menus[menu] = {"label": menu, "children": [item]}
            bar.append(menus[menu])
        else:
            menus[menu]["children"].append(item)
    return {"bar": bar, "account": account}

"""Every action a page shows can be used by the person who sees it: for each
demo role, walk the pages its navigation leads to; no link answers 403, and
every form posts to a view whose declared permission the person holds
(safeward.web.access; ADR 0405)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from safeward.identity.decorators import AUTHENTICATED_ONLY
from safeward.identity.models import User
from safeward.identity.roles import CATALOG
from safeward.web.access import declared_permission, may_use, view_permission
from safeward.web.navigation import NAVIGATION
from tests.conftest import sign_in
from tests.web.site_walk import page_actions, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(seeded_demo):
    """The seeded demo hospital, restored from the run's one seed (ADR 1600)."""
    return seeded_demo


def _form_refusals(user: User, page: str, html: str) -> list[str]:
    refusals = []
    for method, action in page_actions(html, page).forms:
        if method != "post":
            continue
        try:
            callback = resolve(action.split("?")[0]).func
        except Resolver404:
            refusals.append(f"{page}: a form posts to {action}, which does not exist")
            continue
        permission = declared_permission(callback)
        if permission is None or permission == AUTHENTICATED_ONLY:
            continue  # allauth's own forms, or pages about oneself
        if not user.has_perm(permission):
            refusals.append(f"{page}: a form posts to {action}, which needs {permission}")
    return refusals


@pytest.mark.parametrize("role", [spec.code for spec in CATALOG])
def test_no_visible_action_is_refused(demo, role):
    user = User.objects.get(username=f"demo.{role}")
    client = Client()
    sign_in(client, user)

    def get(path: str) -> tuple[int, str]:
        response = client.get(path)
        page = response.status_code == 200 and response.get("Content-Type", "").startswith("text/html")
        return response.status_code, response.content.decode() if page else ""  # not a download (PDF, CSV)

    start = ["/", *(item["url"] for item in _navigation(user))]
    problems: list[str] = []
    pages = 0
    for path, status, html in walk(get, start):
        pages += 1
        if status == 403:
            problems.append(f"{path}: a visible link answers 403")
        elif status == 200:
            problems.extend(_form_refusals(user, path.split("?")[0], html))
    assert pages > 2
    assert not problems, f"{role}:\n" + "\n".join(problems)


def _navigation(user: User) -> list[dict[str, str]]:
    from safeward.web.navigation import navigation_for

    return navigation_for(user)


def test_navigation_entries_carry_their_views_permission():
    """A menu entry shows to exactly those its page accepts."""
    for item in NAVIGATION:
        declared = view_permission(item.url_name)
        expected = AUTHENTICATED_ONLY if item.permission is None else item.permission.value
        assert declared == expected, item.url_name


def test_may_denies_by_default(make_user):
    nurse = make_user("nurse")
    assert may_use(nurse, "workforce:me")
    assert not may_use(nurse, "workforce:person_terminate")
    assert not may_use(nurse, "web:healthz")  # declares nothing: offered to nobody
    with pytest.raises(LookupError):
        may_use(nurse, "workforce:no_such_view")


def test_the_top_bar_groups_officers_pages_into_menus(make_user):
    from safeward.web.navigation import menu_bar, navigation_for

    officer = make_user("privacy_officer")
    bar = menu_bar(navigation_for(officer))
    labels = [entry["label"] for entry in bar["bar"]]
    assert labels == [
        "Dashboard",
        "Settings",
        "Audit",
        "Alerts",
        "Incidents",
        "Assets",
        "Compliance",
        "Policies",
        "Facilities",
    ]
    facilities = next(entry for entry in bar["bar"] if entry["label"] == "Facilities")
    assert [item["label"] for item in facilities["children"]] == [
        "Flagged visitors",
        "Secure workstations",
        "Custody log",
        "Disposal queue",
    ]
    audit = next(entry for entry in bar["bar"] if entry["label"] == "Audit")
    assert [item["label"] for item in audit["children"]] == [
        "Audit report",
        "Disclosures",
        "Break-glass review",
        "Access reviews",
    ]
    assets = next(entry for entry in bar["bar"] if entry["label"] == "Assets")
    assert [item["label"] for item in assets["children"]] == [
        "Asset register",
        "Export manifests",
        "PHI findings",
    ]
    compliance = next(entry for entry in bar["bar"] if entry["label"] == "Compliance")
    assert [item["label"] for item in compliance["children"]] == [
        "Control tests",
        "Assessments",
        "Risk register",
        "Vendors",
    ]
    policies = next(entry for entry in bar["bar"] if entry["label"] == "Policies")
    assert [item["label"] for item in policies["children"]] == ["Policy library", "Acknowledgement campaigns"]
    assert [item["label"] for item in bar["account"]] == [
        "My sessions",
        "My training & reviews",
        "My acknowledgements",
    ]
    # A menu with one entry for this person is that entry.
    nurse_bar = menu_bar(navigation_for(make_user("nurse")))
    assert all("children" not in entry for entry in nurse_bar["bar"])


def test_the_devices_menu_holds_the_device_pages(make_user):
    from safeward.web.navigation import menu_bar, navigation_for

    bar = menu_bar(navigation_for(make_user("biomedical_engineer")))
    devices = next(entry for entry in bar["bar"] if entry["label"] == "Devices")
    assert [item["label"] for item in devices["children"]] == [
        "Device inventory",
        "Segments and flows",
        "MDS2 statements",
        "Compensating controls",
    ]
    assert "Devices" not in [entry["label"] for entry in menu_bar(navigation_for(make_user("nurse")))["bar"]]

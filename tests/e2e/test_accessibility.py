"""axe-core on every page each demo role reaches from its navigation: no
serious or critical violation (issue 12). One test per role; the sign-in
pages are checked on the way in. Screenshots of each role's landing page go
to test-artifacts/screenshots/a11y-<role>.png."""

from __future__ import annotations

from typing import Any

import pytest

from safeward.identity.roles import CATALOG
from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import sign_in_demo
from tests.web.site_walk import walk

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Pages per role: every navigation entry and what one click from them opens.
PAGE_LIMIT = 30


def navigation_paths(page: Any) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        "header.topbar a[href^='/']", "links => links.map((link) => link.getAttribute('href'))"
    )
    return [href for href in hrefs if not href.startswith("/accounts/logout")]


@pytest.mark.parametrize("role", [spec.code for spec in CATALOG])
def test_every_page_of_the_role_passes_axe(page, demo_credentials, screenshot, role):
    page.set_viewport_size({"width": 1366, "height": 900})  # the common hospital screen
    problems: list[str] = []
    sign_in_demo(page, demo_credentials[role], problems)
    screenshot(page, f"a11y-{role}")
    # The top bar is one row (it wrapped to two for the officers).
    assert page.eval_on_selector("header.topbar", "bar => bar.getBoundingClientRect().height") < 64

    def get(path: str) -> tuple[int, str]:
        response = page.goto(path)
        return (response.status if response else 0), page.content()

    visited = 0
    for path, status, _ in walk(get, ["/", *navigation_paths(page)], limit=PAGE_LIMIT, depth=1):
        visited += 1
        if status == 200:
            problems.extend(describe(path, axe_violations(page)))
            if page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth"):
                problems.append(f"{path}: wider than a 1366 px screen")
    assert visited >= 3
    assert not problems, f"{role}: serious or critical accessibility violations:\n" + "\n".join(problems)


def test_axe_reports_a_serious_violation(page):
    """The check can fail: an unlabelled field on the sign-in page is reported."""
    page.goto("/accounts/login/")
    assert axe_violations(page) == []
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>')")
    assert "label" in {violation["id"] for violation in axe_violations(page)}

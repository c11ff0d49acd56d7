"""Shared Playwright fixtures for the browser tests.

* `browser`: Debian's Chromium (never a downloaded one), headless, one per
  test run (a launch costs 1 to 6 s on the shared CI machine; each test still
  gets a fresh context, with no cookies or storage of another test's, ADR 0306);
  the browser tests run last (tests/conftest.py), so the browser outlives
  only other browser tests; `page`: a fresh browser context and page per test that fails
  the test on any Content-Security-Policy violation or page error.
* `screenshot(page, "name")`: saves test-artifacts/screenshots/name.png
  (git-ignored) so a person can look at what the test saw.
* The site is pytest-django's `live_server` on http://localhost:<port>.
  Chromium treats http://localhost as a secure context, so the `__Host-`
  Secure cookies and WebAuthn work there without TLS
  (tests/e2e/test_mfa_enrol.py checks the cookies arrive).

Playwright's sync API runs an event loop in the test thread, which makes
Django refuse ORM calls there ("async context"); the database work of the
test itself is ordinary synchronous code, so DJANGO_ALLOW_ASYNC_UNSAFE is set
while the browser is alive, and only then: from the first browser test to the
end of the run, when no other kind of test is left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
_CSP_MESSAGE = re.compile(r"Content Security Policy|Refused to (execute|load|apply)", re.IGNORECASE)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report: Any = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def _async_unsafe_allowed() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="session")
def browser(_async_unsafe_allowed: None) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Browser tests need Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh context (no cookies) on the live server. `page.problems` lists
    CSP violations and uncaught page errors; the test fails if any remain.
    A failed test leaves test-artifacts/screenshots/FAILED-<test>.png."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    problems: list[str] = []
    new_page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and _CSP_MESSAGE.search(message.text)
            else None
        ),
    )
    new_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    new_page.problems = problems
    try:
        yield new_page
        if request.node.stash.get(_FAILED, False):
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            new_page.screenshot(path=str(SCREENSHOT_DIR / f"FAILED-{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert not problems, "The browser reported problems:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def _committed_data(transactional_db: None) -> None:
    """The live server answers from its own thread and connection, so browser
    tests write committed data (the flush after each test re-seeds the role
    catalog through post_migrate)."""


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in_with_password(page: Any, username: str, password: str) -> None:
    """Fill allauth's login form and submit it."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")


def nav_click(page: Any, name: str) -> None:
    """Click a top-bar entry by its label, opening its menu first when it sits
    in one (Audit, Settings, the account menu)."""
    # Text, not role: a link inside a closed menu is not in the accessibility tree.
    label = re.compile(f"^{re.escape(name)}$")
    link = page.locator("header.topbar a").filter(has_text=label)
    if not link.is_visible():
        page.locator("header.topbar details").filter(has=page.locator("a").filter(has_text=label)).locator(
            "summary"
        ).click()
    link.click()


@pytest.fixture
def demo_credentials(seeded_demo: Any) -> dict[str, dict[str, Any]]:
    """The demo hospital seeded (issue 12: every role, with workforce
    records); its credentials file's users by role. The seed's result is
    restored from the run's one real seed (tests/demo/snapshot.py, ADR 1600)."""
    import json

    from safeward.demo import seed

    document = json.loads((seeded_demo.VAR_DIR / seed.CREDENTIALS_FILENAME).read_text())
    return {entry["role"]: entry for entry in document["users"]}


@pytest.fixture
def demo_credentials_seeded_here(settings: Any, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Like `demo_credentials`, but the seed runs in this test, under the
    clock the test has installed (a frozen morning): the snapshot was taken
    at the run's real time."""
    import json

    from django.core.management import call_command

    from safeward.demo import seed

    settings.SAFEWARD_DEMO = True
    settings.VAR_DIR = tmp_path / "var"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo", "seed")
    document = json.loads((settings.VAR_DIR / seed.CREDENTIALS_FILENAME).read_text())
    return {entry["role"]: entry for entry in document["users"]}


def sign_in_demo(page: Any, entry: dict[str, Any], problems: list[str] | None = None) -> None:
    """Sign in as a demo user; with `problems`, axe-core checks the two
    sign-in pages on the way (tests/e2e/axe.py)."""
    from tests.conftest import totp_now
    from tests.e2e.axe import axe_violations, describe

    page.goto("/accounts/login/")
    if problems is not None:
        problems.extend(describe("/accounts/login/", axe_violations(page)))
    page.fill("input[name=login]", entry["username"])
    page.fill("input[name=password]", entry["password"])
    page.click("main form button[type=submit]")
    page.wait_for_url("**/accounts/2fa/authenticate/")
    if problems is not None:
        problems.extend(describe("/accounts/2fa/authenticate/", axe_violations(page)))
    page.fill("input[name=code]", totp_now(entry["totp_secret"]))
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1")
    # The demo asks nurses and physicians to acknowledge the new acceptable-use
    # revision (issue 18, still in its grace period): these walks set it aside
    # for the session, as a person may; tests/e2e/test_policies.py acknowledges.
    later = page.locator("#later")
    if later.count():
        if problems is not None:
            problems.extend(describe(page.url, axe_violations(page)))
        later.click()
        page.wait_for_selector("h1")

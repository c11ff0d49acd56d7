"""Re-authentication from a long or odd address: the person gets the
re-authentication page and comes back to where they were (or, when the
address cannot be carried, to the page without its query, or the
dashboard), never a 400 and never another site."""

from __future__ import annotations

import urllib.parse

import pytest
from django.test import RequestFactory

from safeward.identity.redirects import carriable, form_page, return_path
from tests.conftest import sign_in, totp_now

pytestmark = pytest.mark.django_db

RULE = "/detection/rules/mass_access/"
STEP_UP = "/accounts/2fa/reauthenticate/"


def _next(location: str) -> str | None:
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("next")
    return values[0] if values else None


def _no_errors(caplog: pytest.LogCaptureFixture) -> bool:
    return not [record for record in caplog.records if record.levelname == "ERROR"]


@pytest.fixture
def stale_officer(client, make_user):
    """A security officer whose second factor is no longer fresh."""
    officer = make_user("security_officer")
    sign_in(client, officer, mfa=False)
    return client, officer


def _step_up(client, officer, location: str) -> str:
    assert location.startswith(STEP_UP)
    assert client.get(location).status_code == 200  # the re-authentication page works
    done = client.post(location, {"code": totp_now(officer.test_totp_secret)})
    assert done.status_code == 302
    return str(done["Location"])


class TestStepUp:
    def test_an_ordinary_address_comes_back_whole(self, stale_officer):
        client, officer = stale_officer
        response = client.get(RULE, {"q": "ward 3", "tab": "params"})
        assert response.status_code == 302
        assert _next(response["Location"]) == f"{RULE}?q=ward+3&tab=params"
        assert _step_up(client, officer, response["Location"]) == f"{RULE}?q=ward+3&tab=params"

    def test_a_long_query_string_is_dropped_not_refused(self, stale_officer, caplog):
        """The redirect carried all of it and Django refused its own redirect (400)."""
        client, officer = stale_officer
        filters = {f"filter{i}": "x" * 40 for i in range(500)}  # a search page with many filters
        response = client.get(RULE, filters)
        assert response.status_code == 302
        assert _next(response["Location"]) == RULE
        assert _step_up(client, officer, response["Location"]) == RULE
        assert _no_errors(caplog)

    def test_a_query_string_too_long_to_come_back_is_dropped(self, stale_officer):
        """Under the redirect's cap but over allauth's: allauth dropped `next`
        silently after the code, and the person landed on the dashboard."""
        client, officer = stale_officer
        response = client.get(RULE, {"q": "y" * 3000})
        assert _next(response["Location"]) == RULE
        assert _step_up(client, officer, response["Location"]) == RULE

    def test_a_form_sent_without_a_fresh_factor_comes_back_to_its_page(self, stale_officer):
        """POST-only actions: coming back to the action's address would be a 405."""
        client, officer = stale_officer
        response = client.post(
            "/identity/session-policy/",
            {"roles": ["nurse"]},
            HTTP_REFERER="http://testserver/identity/users/",
        )
        assert _next(response["Location"]) == "/identity/users/"
        assert _step_up(client, officer, response["Location"]) == "/identity/users/"

    def test_a_form_from_another_site_comes_back_to_the_dashboard(self, stale_officer):
        client, officer = stale_officer
        response = client.post(
            "/identity/session-policy/", {"roles": ["nurse"]}, HTTP_REFERER="https://evil.example/identity/"
        )
        assert response["Location"] == STEP_UP
        assert _step_up(client, officer, response["Location"]) == "/"


class TestAllauthReauthentication:
    """allauth's own re-authentication (before MFA changes) built the same
    unbounded redirect."""

    def test_a_long_query_string_is_dropped_not_refused(self, client, make_user, caplog):
        user = make_user("nurse")
        sign_in(client, user)
        response = client.get("/accounts/2fa/recovery-codes/generate/", {"q": "z" * 20_000})
        assert response.status_code == 302
        assert _next(response["Location"]) == "/accounts/2fa/recovery-codes/generate/"
        assert client.get(response["Location"]).status_code == 200
        assert _no_errors(caplog)

    def test_an_ordinary_address_is_left_to_allauth(self, client, make_user):
        user = make_user("nurse")
        sign_in(client, user)
        response = client.get("/accounts/2fa/recovery-codes/generate/", {"q": "a"})
        assert response.status_code == 302
        assert _next(response["Location"]) == "/accounts/2fa/recovery-codes/generate/?q=a"


class TestReturnPath:
    @pytest.mark.parametrize("path", ["//evil.example/detection/", "///evil.example/"])
    def test_an_address_a_browser_reads_as_another_site_is_not_carried(self, path):
        request = RequestFactory().get("/")
        request.path = path
        assert return_path(request) is None

    def test_a_backslash_is_carried_escaped(self):
        """Browsers read `/\\host` as `//host`; escaped it is a path here."""
        request = RequestFactory().get("/")
        request.path = "/\\evil.example/detection/"
        assert return_path(request) == "/%5Cevil.example/detection/"

    @pytest.mark.parametrize(
        "url",
        ["/\\evil.example/", "/\\/evil.example/", "https://evil.example/", "javascript:alert(1)", "x/y"],
    )
    def test_only_a_path_on_this_site_is_carriable(self, url):
        assert not carriable(url)

    def test_a_referer_from_another_site_is_not_carried(self):
        request = RequestFactory().post("/x/", HTTP_REFERER="https://evil.example/identity/")
        assert form_page(request) is None

    def test_a_referer_without_a_host_is_not_carried(self):
        request = RequestFactory().post("/x/", HTTP_REFERER="//evil.example/identity/")
        assert form_page(request) is None

    def test_a_long_referer_comes_back_without_its_query(self):
        request = RequestFactory().post("/x/", HTTP_REFERER="http://testserver/clinical/?q=" + "a" * 3000)
        assert form_page(request) == "/clinical/"

    def test_a_referer_path_a_browser_reads_as_another_site_is_not_carried(self):
        request = RequestFactory().post("/x/", HTTP_REFERER="http://testserver//evil.example/identity/")
        assert form_page(request) is None

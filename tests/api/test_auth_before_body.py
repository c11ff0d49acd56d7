"""Who is calling is judged before what was sent (ADR 1309): an anonymous
caller, or one with a token that is not valid, gets 401 from every API
operation that takes a body, whatever its content type, and learns nothing
about what the endpoint accepts; a known caller gets 415 for the wrong
content type and 400 for malformed JSON."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string

from tests.api.test_error_shape import assert_error_shape
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/clinical/patients/search/"
BODIES = [("hello", "text/plain"), ("<a/>", "application/xml"), ("{bad", "application/json")]


def _body_operations(client: Client) -> list[tuple[str, str]]:
    """(method, url) of every API operation with a request body, path ids filled in."""
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"post", "put", "patch"}:
                continue
            url = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    uuid = parameter.get("schema", {}).get("format") == "uuid"
                    value = "00000000-0000-4000-8000-000000000000" if uuid else "1"
                    url = url.replace("{" + parameter["name"] + "}", value)
            found.append((method, url))
    return found


def test_every_body_operation_answers_an_anonymous_caller_401_whatever_it_sent(signed_in):
    client, _ = signed_in("nurse")
    operations = _body_operations(client)
    assert len(operations) > 40
    # The vulnerability API's writes among them (issue 17), its exception decisions included.
    assert {
        ("post", "/api/v1/vulns/findings/1/exceptions/"),
        ("post", "/api/v1/vulns/exceptions/1/approve/"),
        ("post", "/api/v1/vulns/exceptions/1/reject/"),
        ("put", "/api/v1/vulns/findings/1/analysis/"),
        ("post", "/api/v1/vulns/inventories/"),
        ("post", "/api/v1/vulns/plans/"),
        ("post", "/api/v1/vulns/plans/1/update/"),
        ("post", "/api/v1/vulns/feeds/"),
    } <= set(operations)
    anonymous = Client()
    for method, url in operations:
        for body, content_type in BODIES:
            response = getattr(anonymous, method)(url, body, content_type=content_type)
            assert response.status_code == 401, (method, url, content_type, response.status_code)
            assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("body", "content_type"), BODIES)
def test_a_token_that_is_not_valid_is_401_whatever_was_sent(client, body, content_type):
    response = client.post(SEARCH, body, content_type=content_type, **bearer("not-a-token"))
    assert_error_shape(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def raw_token(make_user):
    return token(make_user("physician"), "user/*.cruds read write")


def test_a_known_caller_with_the_wrong_content_type_gets_415(client, raw_token):
    assert_error_shape(client.post(SEARCH, "hello", content_type="text/plain", **bearer(raw_token)), 415)
    assert_error_shape(client.post(SEARCH, "{bad", content_type="application/json", **bearer(raw_token)), 400)


def test_a_signed_in_session_with_the_wrong_content_type_gets_415(signed_in):
    client, _ = signed_in("physician")
    assert_error_shape(client.post(SEARCH, "hello", content_type="text/plain"), 415)


def test_a_signed_in_session_failing_its_csrf_check_gets_403_whatever_it_sent(signed_in):
    """CSRF is judged before the body: DRF's check read `request.POST`, which
    parsed the body, so a session without a CSRF token got 415 or 400."""
    client, _ = signed_in("nurse")
    operations = _body_operations(client)
    assert len(operations) > 40
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies  # the same signed-in session
    # A CSRF cookie but no token: without a cookie the check refuses before
    # looking for the token, so only this case went on to read the body.
    strict.cookies[settings.CSRF_COOKIE_NAME] = get_random_string(32)
    for method, url in operations:
        for body, content_type in BODIES:
            response = getattr(strict, method)(url, body, content_type=content_type)
            assert response.status_code == 403, (method, url, content_type, response.status_code)
    assert_error_shape(strict.post(SEARCH, "hello", content_type="text/plain"), 403)


def test_a_signed_in_session_with_its_csrf_token_still_gets_415_and_400(signed_in):
    client, _ = signed_in("physician")
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    secret = get_random_string(32)
    strict.cookies[settings.CSRF_COOKIE_NAME] = secret
    csrf = {"HTTP_X_CSRFTOKEN": secret}
    assert_error_shape(strict.post(SEARCH, "hello", content_type="text/plain", **csrf), 415)
    assert_error_shape(strict.post(SEARCH, "{bad", content_type="application/json", **csrf), 400)

"""Three inputs that once answered 500: JSON nested deeper than the parser's
stack, the consent form posted for an unknown client, and a schedule day at
the end of the calendar. Each is a clear 4xx now."""

from __future__ import annotations

import pytest

from safeward.fhir.models import LaunchCode
from tests.clinical.conftest import clinical_zone, relate  # noqa: F401  # fixture: a clinical zone
from tests.clinical.conftest import patient as patient  # fixture
from tests.conftest import sign_in
from tests.fhir.helpers import app, authorize_query, bearer, pkce, token

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000 + "]" * 10_000
# JSON routes reached through DRF's parsers (OAuth2 authentication read the
# body before the caller was known until ADR 1309; anonymous callers now get 401).
JSON_ROUTES = [
    "/api/v1/clinical/patients/search/",
    "/api/v1/workforce/changes/",
    "/fhir/Patient",
    "/o/launch/",
]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("content_type", ["application/json", "application/fhir+json"])
def test_deeply_nested_json_is_refused_before_anyone_is_known(client, path, content_type):
    response = client.post(path, DEEP, content_type=content_type)
    assert response.status_code in {400, 401, 403, 415}, response.content[:300]


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_deeply_nested_json_is_a_400_for_a_bearer_token(client, make_user, path):
    # Allowed on every route: permissions are judged before the body is read (ADR 1309).
    user = make_user("physician", "hr_officer", "registration_clerk")
    raw = token(user, "user/*.cruds read write")
    response = client.post(path, DEEP, content_type="application/json", **bearer(raw))
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith(("application/json", "application/fhir+json"))


def test_moderately_nested_json_beyond_the_bound_is_a_400(client, make_user):
    user = make_user("physician")
    raw = token(user, "user/*.rs")
    body = '{"name": ' + "[" * 100 + "]" * 100 + "}"
    response = client.post(
        "/api/v1/clinical/patients/search/", body, content_type="application/json", **bearer(raw)
    )
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json()["detail"]


def test_consent_posted_for_an_unknown_client_is_a_400(client, make_user):
    user = make_user("physician")
    sign_in(client, user)
    _, challenge = pkce()
    query = authorize_query(app(), "user/*.rs", challenge)
    query["client_id"] = "no-such-client"
    response = client.post("/o/authorize/", {**query, "allow": "Authorize"})
    assert response.status_code == 400
    assert not LaunchCode.objects.exists()


def test_consent_posted_with_no_client_id_is_a_400(client, make_user):
    sign_in(client, make_user("physician"))
    response = client.post("/o/authorize/", {"allow": "Authorize", "scope": "user/*.rs"})
    assert response.status_code == 400


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_schedule_at_the_ends_of_the_calendar_is_a_400_page(client, make_user, patient, day):
    clerk = make_user("registration_clerk")
    relate(clerk, patient, "department")
    sign_in(client, clerk)
    assert client.get("/clinical/schedule/", {"day": "2026-12-01"}).status_code == 200
    response = client.get("/clinical/schedule/", {"day": day})
    assert response.status_code == 400
    assert b"outside the calendar SafeWard can schedule" in response.content


def test_schedule_api_at_the_end_of_the_calendar_is_a_400(client, make_user, patient):
    from safeward.identity.models import Department

    clerk = make_user("registration_clerk")
    relate(clerk, patient, "department")
    department = Department.objects.get(code="ward-a")
    raw = token(clerk, "user/*.rs")
    response = client.get(
        "/api/v1/clinical/schedule/", {"department_id": department.pk, "day": "9999-12-31"}, **bearer(raw)
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"day": "This day is outside the calendar SafeWard can schedule."}


def test_the_security_key_list_renders(client, make_user):
    # allauth's template loads django.contrib.humanize; without the app it was a 500.
    sign_in(client, make_user("nurse"))
    assert client.get("/accounts/2fa/webauthn/").status_code == 200


def test_a_rule_form_with_deep_json_parameters_is_an_error_not_a_crash():
    from safeward.detection.forms import RuleForm

    form = RuleForm({"enabled": "on", "severity": "high", "params": "[" * 9_000 + "]" * 9_000, "version": ""})
    assert not form.is_valid()
    assert form.errors["params"] == ["The JSON is nested more than 64 levels deep."]

"""One JSON error shape under /api/ — for URLs that match no route, ids of
the wrong form, bodies over the size cap, validation errors of every API —
and an OpenAPI schema that says so: bearer authentication, and the 4xx
answers of every operation."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from safeward import clock
from safeward.assets.services import asset_create
from safeward.devices.models import ClientDevice
from safeward.patching import services
from safeward.patching.models import Finding, RiskException
from tests.fhir.helpers import bearer, token
from tests.patching.conftest import HEARTBLEED, openssl

pytestmark = pytest.mark.django_db

OVERSIZED = '{"name": "' + "a" * (1024 * 1024 + 1) + '"}'


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert set(body) <= {"detail", "errors"}
    return body


@pytest.fixture
def raw_token(make_user):
    # `write` for the workforce API (a DOT plain scope), `user/*.cruds` for the chart.
    return token(make_user("physician", "hr_officer"), "user/*.cruds read write")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing/",
        "/api/v1/clinical/patients/not-a-uuid/",
        "/api/v1/clinical/patients/not-a-uuid/chart/",
        "/api/v1/clinical/appointments/1/cancel/",
    ],
)
def test_urls_that_match_no_route_answer_json(client, raw_token, path):
    assert_error_shape(client.get(path, **bearer(raw_token)), 404)
    assert_error_shape(Client().get(path), 404)


def test_a_body_over_the_size_cap_is_a_json_413(client, raw_token):
    body = assert_error_shape(
        client.post(
            "/api/v1/clinical/patients/search/",
            OVERSIZED,
            content_type="application/json",
            **bearer(raw_token),
        ),
        413,
    )
    assert "larger than" in body["detail"]


def test_a_body_over_the_size_cap_from_nobody_known_is_a_json_401(client):
    # The caller is judged before the body is read (ADR 1309): nothing is buffered for them.
    assert_error_shape(
        client.post("/api/v1/clinical/patients/search/", OVERSIZED, content_type="application/json"), 401
    )


def test_validation_errors_of_every_api_have_the_one_shape(client, raw_token):
    body = assert_error_shape(
        client.post(
            "/api/v1/workforce/people/E-404/terminate/",
            {},
            content_type="application/json",
            **bearer(raw_token),
        ),
        404,
    )
    assert body == {"detail": "No such record."}
    body = assert_error_shape(
        client.post("/o/launch/", {"patient_id": "x"}, content_type="application/json", **bearer(raw_token)),
        400,
    )
    assert body["errors"] == {"patient_id": "Must be a valid UUID."}


CLIENT_LINKS = "/api/v1/devices/posture/client-links/"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("link/", {}, "device"),
        ("link/", {"device": "x", "client_id": "kiosk", "reason": "ward 3"}, "device"),
        ("link/", {"device": 1, "client_id": "no-such-client", "reason": "ward 3"}, "client_id"),
        ("link/", {"device": 1, "client_id": "no-such-client", "reason": " "}, "reason"),
        ("unlink/", {}, "client_id"),
        ("unlink/", {"client_id": "never-linked", "reason": "ward 3"}, "client_id"),
    ],
)
def test_client_link_endpoints_answer_bad_input_in_the_one_shape(client, make_user, path, payload, field):
    """ADR 1018's device↔client link endpoints: a 400 naming the field, nothing linked."""
    raw = token(make_user("security_officer"), "read write")
    body = assert_error_shape(
        client.post(CLIENT_LINKS + path, payload, content_type="application/json", **bearer(raw)), 400
    )
    assert field in body["errors"]
    assert not ClientDevice.objects.exists()


VULNS = "/api/v1/vulns/"


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "field"),
    [
        # Bad query values and bodies: 400 naming the field.
        ("get", "findings/?state=nonsense", None, 400, "state"),
        ("get", "findings/?severity=dire", None, 400, "severity"),
        ("get", "exceptions/?status=pending", None, 400, "status"),
        ("get", "plans/?status=soon", None, 400, "status"),
        ("put", "findings/{finding}/analysis/", {"state": "fine"}, 400, "state"),
        ("post", "inventories/", {"target_kind": "ship", "target_id": 1, "content": "x"}, 400, "target_kind"),
        ("post", "plans/", {"title": "x"}, 400, "target_kind"),
        ("get", "vex/cyclonedx/?state=fine", None, 400, "state"),
        ("post", "feeds/", "multipart", 400, "file"),
        ("post", "feeds/", {"feed": "kev"}, 415, None),
        ("post", "findings/{finding}/exceptions/", {}, 400, "decision"),
        ("post", "findings/{finding}/exceptions/", {"expires_on": "soon"}, 400, "expires_on"),
        # The service's own refusals (a past expiry, a control that judges nothing) name their fields too.
        (
            "post",
            "findings/{finding}/exceptions/",
            {
                "decision": "accept",
                "justification": "x",
                "controls": [{"control_id": "patching.inventory_current", "resource_id": "asset:999999"}],
                "expires_on": "2001-01-01",
            },
            400,
            ("controls", "expires_on"),
        ),
        # Unknown: 404.
        ("get", "findings/999999/", None, 404, None),
        ("post", "findings/999999/exceptions/", {}, 404, None),
        ("post", "exceptions/999999/approve/", {}, 404, None),
        ("post", "exceptions/999999/reject/", {}, 404, None),
        ("get", "plans/999999/", None, 404, None),
        ("get", "vex/spdx/", None, 404, None),
        ("post", "plans/999999/update/", {"status": "cancelled"}, 404, None),
        # The requester deciding their own: 403. Decided already: 409.
        ("post", "exceptions/{own}/approve/", {}, 403, None),
        ("post", "exceptions/{own}/reject/", {}, 403, None),
        ("post", "exceptions/{decided}/reject/", {}, 409, None),
        ("post", "exceptions/{decided}/approve/", {}, 409, None),
        ("post", "findings/{finding}/exceptions/", "filed", 409, None),
    ],
)
def test_the_vulns_api_answers_refusals_in_the_one_shape(
    client, make_user, method, path, payload, status, field
):
    """Issue 17's API: bad input 400 (with its field), not this person 403,
    unknown 404, stale 409; nothing saved by any of them."""
    officer = make_user("security_officer")
    other = make_user("it_admin")
    asset = asset_create(actor=None, values={"name": "Engine", "kind": "server", "network_zone": "dmz"})
    services.osv_import(actor=None, raw=json.dumps(HEARTBLEED).encode(), filename="h.json")
    services.inventory_import(actor=None, target_kind="asset", target_id=asset.pk, raw=openssl())
    finding = Finding.objects.get()

    def request_exception(actor):
        return services.exception_request(
            actor=actor,
            finding_id=finding.pk,
            decision="accept",
            justification="Upgrade in the next window.",
            controls=[("patching.inventory_current", f"asset:{asset.pk}")],
            expires_on=clock.now().date() + dt.timedelta(days=30),
        )

    decided = request_exception(other)
    services.exception_decide(actor=officer, exception_id=decided.pk, approve=False)
    own = request_exception(officer) if payload == "filed" or "{own}" in path else None
    before = list(RiskException.objects.values_list("pk", "status"))
    url = VULNS + path.format(finding=finding.pk, own=own.pk if own else 0, decided=decided.pk)
    raw = token(officer, "read write")
    if method == "get":
        response = client.get(url, **bearer(raw))
    elif payload == "multipart":
        response = client.post(url, {"feed": "kev"}, **bearer(raw))
    else:
        body = _exception_body(asset.pk) if payload == "filed" else payload
        response = getattr(client, method)(url, body, content_type="application/json", **bearer(raw))
    body = assert_error_shape(response, status)
    for name in (field,) if isinstance(field, str) else field or ():
        assert name in body["errors"], body
    assert list(RiskException.objects.values_list("pk", "status")) == before


def _answers_as_documented(schema: dict, path: str, method: str, response) -> dict:
    """The body validates against what the OpenAPI schema says this operation
    answers with this status (its $refs resolved in the schema's components)."""
    body = response.json()
    operation = schema["paths"][path][method]
    declared = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**declared, "components": schema["components"]})
    return body


@pytest.mark.parametrize(
    ("method", "path", "payload", "errors"),
    [
        # The input serializer's refusals: `errors` an object naming the fields.
        ("post", "inventories/", {"target_kind": "ship", "target_id": 1, "content": "x"}, dict),
        ("post", "feeds/", {"feed": "kev"}, dict),
        ("post", "feeds/", {"feed": "osv", "file": ""}, dict),
        ("put", "findings/{finding_id}/analysis/", {"state": "fine"}, dict),
        ("post", "plans/", {"title": "x"}, dict),
        ("post", "plans/{plan_id}/update/", {"status": "someday"}, dict),
        # The service's refusals of a file it cannot read: a list of reasons.
        ("post", "inventories/", {"target_kind": "asset", "target_id": 999999, "content": "x"}, list),
        ("post", "inventories/", {"target_kind": "asset", "target_id": "{asset}", "content": "{{"}, list),
        ("post", "feeds/", {"feed": "kev", "file": b"not a catalog"}, list),
    ],
)
def test_the_vulns_api_400_bodies_are_what_its_schema_declares(
    client, make_user, schema, method, path, payload, errors
):
    """The uploads (inventory, feeds) and the other vulns writes: whichever
    shape a 400 has, the OpenAPI schema declares it (it said a list for field
    errors, which come back as an object)."""
    officer = make_user("security_officer")
    asset = asset_create(actor=None, values={"name": "Engine", "kind": "server", "network_zone": "dmz"})
    services.osv_import(actor=None, raw=json.dumps(HEARTBLEED).encode(), filename="h.json")
    services.inventory_import(actor=None, target_kind="asset", target_id=asset.pk, raw=openssl())
    finding = Finding.objects.get()
    plan = services.plan_create(
        actor=officer,
        target_kind="asset",
        target_id=asset.pk,
        finding_ids=[finding.pk],
        title="Upgrade",
        window_start=clock.now() + dt.timedelta(days=1),
        window_end=clock.now() + dt.timedelta(days=1, hours=2),
    )
    url = VULNS + path.format(finding_id=finding.pk, plan_id=plan.pk)
    headers = bearer(token(officer, "read write"))
    if path == "feeds/":
        upload = {
            name: SimpleUploadedFile("feed.json", value) if isinstance(value, bytes) else value
            for name, value in payload.items()
        }
        response = client.post(url, upload, **headers)
    else:
        body = {name: str(asset.pk) if value == "{asset}" else value for name, value in payload.items()}
        response = getattr(client, method)(url, body, content_type="application/json", **headers)
    assert response.status_code == 400, response.content[:300]
    body = _answers_as_documented(schema, VULNS + path, method, response)
    assert isinstance(body["errors"], errors)


def _exception_body(asset_id: int) -> dict:
    return {
        "decision": "reduce",
        "justification": "Blocked at the firewall.",
        "controls": [{"control_id": "patching.inventory_current", "resource_id": f"asset:{asset_id}"}],
        "expires_on": (clock.now().date() + dt.timedelta(days=30)).isoformat(),
    }


def test_no_credentials_is_a_json_401_with_a_bearer_challenge(client):
    response = client.get("/api/v1/me/")
    assert_error_shape(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def schema(signed_in):
    client, _ = signed_in("nurse")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    return json.loads(response.content)


def test_the_schema_declares_bearer_authentication(schema):
    assert schema["components"]["securitySchemes"]["bearer"]["type"] == "http"
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) > 15
    for path, method, operation in operations:
        assert {"bearer": []} in operation["security"], f"{method} {path}"


def test_every_operation_declares_its_error_answers_in_the_one_shape(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code in ("400", "401", "403", "404"):
                response = operation["responses"].get(code)
                assert response is not None, f"{method} {path} does not declare {code}"
                ref = response["content"]["application/json"]["schema"]
                assert ref in (
                    {"$ref": "#/components/schemas/ErrorOutput"},
                    {"$ref": "#/components/schemas/ChangesRefused"},
                    {"$ref": "#/components/schemas/AssetImportRefused"},
                    # Imports answer their row errors (all or nothing) in their own documented shape.
                    {"$ref": "#/components/schemas/DevicesImportRefused"},
                    {"$ref": "#/components/schemas/DevicesFlowExportRefused"},
                    {"$ref": "#/components/schemas/Mds2ImportOutput"},
                    {"$ref": "#/components/schemas/VulnErrorOutput"},
                    # The vulns API's 400: the one shape, or its service's list of reasons.
                    {"$ref": "#/components/schemas/VulnBadInput"},
                ), f"{method} {path} {code}: {ref}"
            if method == "post":
                assert "413" in operation["responses"], f"{method} {path}"


def test_an_invalid_bearer_token_is_refused_even_beside_a_session(signed_in):
    """RFC 6750: a token that is not valid is a 401, not a fall back to the
    browser session the same request carries (schemathesis' ignored-auth check)."""
    client, _ = signed_in("physician")
    assert client.get("/api/v1/me/").status_code == 200
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer not-a-real-token")
    assert_error_shape(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_get_that_only_refuses_is_not_offered(signed_in):
    client, _ = signed_in("registration_clerk")
    allow = client.options("/api/v1/clinical/patients/")["Allow"]
    assert "POST" in allow
    assert "GET" not in allow
    assert_error_shape(client.get("/api/v1/clinical/patients/", {"name": "x"}), 405)

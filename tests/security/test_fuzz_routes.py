"""Every route in the URLconf, walked as the permission test walks it, gets
hostile input — ids that do not exist or overflow, odd and huge query values,
JSON nested 10,000 deep, malformed JSON, the wrong content type, a body over
the size cap, unexpected methods — as an anonymous visitor, as a signed-in
account holding most roles, and with a bearer token. No answer may be a 5xx.

New routes are fuzzed without a line here; a path parameter whose pattern
none of the sample values fits fails the test, so it is never skipped."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from importlib import import_module

import pytest
from django import urls
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.test import Client, override_settings
from django.urls import Resolver404, get_resolver, resolve

from safeward import clock
from safeward.identity.models import UserSession
from tests.clinical.conftest import clinical_zone  # noqa: F401  # fixture: the test client is on a ward
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token
from tests.security.test_url_permissions import walk

pytestmark = pytest.mark.django_db

# Roles whose pages between them cover almost every route (each sees its own pages past the 403).
ROLES = (
    "physician",
    "registration_clerk",
    "lab_technician",
    "hr_officer",
    "it_admin",
    "security_officer",
    "privacy_officer",
    "auditor",
)
SCOPES = "openid fhirUser launch user/*.cruds"

# Sample values for path parameters, the most hostile first: an id past any
# database integer, one that does not exist, odd text. Each parameter takes
# the first that its pattern accepts.
PATH_VALUES = (
    "99999999999999999999999",
    "999999999999",
    "00000000-0000-4000-8000-00000000abcd",
    "Patient",
    "approve",
    "x",
)
ODD_PATH_VALUES = ("0", "ffffffff-ffff-ffff-ffff-ffffffffffff", "Zz", "reject", "-", "a" * 64)
CONVERTERS = {
    "int": r"[0-9]+",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "slug": r"[-a-zA-Z0-9_]+",
    "str": r"[^/]+",
    "path": r".+",
}
QUERY_KEYS = [
    *("day", "date", "since", "until", "from", "to", "start", "end", "birthdate", "birth_date"),
    *("page", "page_size", "_count", "cursor", "q", "name", "mrn", "patient", "patient_id"),
    *("department", "department_id", "clinician_id", "status", "sort", "kind", "severity", "rule"),
    *("role", "next", "launch", "client_id", "redirect_uri", "scope", "code_challenge"),
    *("code_challenge_method", "response_type", "state", "format", "_format", "year", "month"),
    *("id", "_id", "employee_number"),
]
END_OF_CALENDAR = dict.fromkeys(QUERY_KEYS, "9999-12-31")
ODD = ("99999999999999999999999", "-1", "0001-01-01", "1e309", "NaN", "[]", "\x00", "'\"<x>", "a" * 4000)
ODD_VALUES = {key: ODD[index % len(ODD)] for index, key in enumerate(QUERY_KEYS)}
DEEP_JSON = "[" * 10_000 + "]" * 10_000
OVERSIZED = "a" * (1024 * 1024 + 1)  # over DATA_UPLOAD_MAX_MEMORY_SIZE


def _group_pattern(text: str, start: int) -> tuple[str, int]:
    """The sub-pattern of the group opening at text[start] and the index past it."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(" and text[index - 1 : index] != "\\":
            depth += 1
        elif text[index] == ")" and text[index - 1 : index] != "\\":
            depth -= 1
            if depth == 0:
                inner = text[start + 1 : index]
                return re.sub(r"^\?P<\w+>", "", inner), index + 1
    raise AssertionError(f"unbalanced group in {text!r}")


def _pick(pattern: str, values: tuple[str, ...]) -> str:
    for value in values:
        if re.fullmatch(pattern, value):
            return value
    for value in PATH_VALUES:
        if re.fullmatch(pattern, value):
            return value
    raise AssertionError(f"no sample value fits the path parameter pattern {pattern!r}")


def concrete(route: str, values: tuple[str, ...]) -> str:
    """A URL for a route from the walk: converters and regex groups filled in."""
    out: list[str] = []
    index = 0
    while index < len(route):
        char = route[index]
        if route.startswith("(?P<", index):
            pattern, index = _group_pattern(route, index)
            out.append(_pick(pattern, values))
            continue
        converter = re.match(r"<(?:(\w+):)?\w+>", route[index:])
        if converter:
            out.append(_pick(CONVERTERS[converter.group(1) or "str"], values))
            index += converter.end()
            continue
        if char not in "^$":
            out.append(char.replace("\\", ""))
        index += 1
    return "/" + "".join(out)


def fuzz_paths() -> list[str]:
    paths: set[str] = set()
    for route, _name, _callback in walk(get_resolver()):
        for values in (PATH_VALUES, ODD_PATH_VALUES):
            path = concrete(route, values)
            resolve(path)  # raises Resolver404 if the walk and the filling disagree
            paths.add(path)
    return sorted(paths)


@dataclass
class Probe:
    label: str
    method: str
    kwargs: dict[str, object]


def probes(path: str) -> Iterator[Probe]:
    yield Probe("GET end of calendar", "get", {"path": path, "data": END_OF_CALENDAR})
    yield Probe("GET odd values", "get", {"path": path, "data": ODD_VALUES})
    yield Probe(
        "POST form of odd values", "post", {"path": path, "data": {**ODD_VALUES, "params": DEEP_JSON}}
    )
    yield Probe(
        "POST deep JSON", "post", {"path": path, "data": DEEP_JSON, "content_type": "application/json"}
    )
    yield Probe(
        "POST malformed JSON", "post", {"path": path, "data": '{"a": [1,', "content_type": "application/json"}
    )
    yield Probe(
        "POST JSON of the wrong type",
        "post",
        {"path": path, "data": '[{"patient_id": null}, 1e999]', "content_type": "application/json"},
    )
    yield Probe(
        "POST XML", "post", {"path": path, "data": "<?xml version='1.0'?><a/>", "content_type": "text/xml"}
    )
    yield Probe(
        "POST oversized", "post", {"path": path, "data": OVERSIZED, "content_type": "application/json"}
    )
    yield Probe("PUT", "put", {"path": path, "data": "{}", "content_type": "application/json"})
    yield Probe("DELETE", "delete", {"path": path})


@pytest.fixture
def subject(make_user):
    return make_user(*ROLES)


def _server_errors(make_client, paths: list[str]) -> list[str]:
    errors = []
    for path in paths:
        client, extra = make_client()
        for probe in probes(path):
            response = getattr(client, probe.method)(**probe.kwargs, **extra)
            if response.status_code >= 500:
                errors.append(f"{probe.label} {path}: {response.status_code}")
    return errors


class _SignedIn:
    """A client in the state a fresh sign-in leaves, for each path. Signing in
    writes a session, an account session and an audit event (some 30 ms, for
    each of ~670 paths), so the sign-in is repeated only when a probe ended it; otherwise
    the session's data and cookies go back to what the sign-in left, with a
    fresh second factor and activity (the step-up and idle windows)."""

    def __init__(self, user) -> None:
        self.user = user
        self.user_session: UserSession | None = None
        self.cookies = SimpleCookie()
        self.data: dict[str, object] = {}

    def __call__(self) -> tuple[Client, dict[str, str]]:
        client = Client(raise_request_exception=False)
        user_session = self.user_session
        if user_session is None or not self._still_signed_in(user_session):
            self.user_session = sign_in(client, self.user)
            self.cookies = copy.deepcopy(client.cookies)
            self.data = dict(client.session.items())
            return client, {}
        client.cookies = copy.deepcopy(self.cookies)
        session = client.session
        session.clear()
        session.update(self.data)
        session.save()
        now = clock.now()
        UserSession.objects.filter(pk=user_session.pk).update(last_seen_at=now, mfa_at=now)
        return client, {}

    def _still_signed_in(self, user_session: UserSession) -> bool:
        key = self.cookies[settings.SESSION_COOKIE_NAME].value
        sessions = UserSession.objects.filter(pk=user_session.pk, session_key=key, ended_at__isnull=True)
        return sessions.exists() and import_module(settings.SESSION_ENGINE).SessionStore().exists(key)


def test_no_route_answers_hostile_input_with_a_server_error(subject):
    paths = fuzz_paths()
    assert len(paths) > 150  # the walk really reached the included URLconfs

    def anonymous():
        return Client(raise_request_exception=False), {}

    signed_in = _SignedIn(subject)

    raw = token(subject, SCOPES)

    def with_bearer():
        return Client(raise_request_exception=False), bearer(raw)

    errors = [
        f"{who}: {error}"
        for who, make_client in (("anonymous", anonymous), ("signed in", signed_in), ("bearer", with_bearer))
        for error in _server_errors(make_client, paths)
    ]
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors)


def test_the_walk_fills_every_kind_of_path_parameter():
    assert concrete(
        "fhir/^(?P<resource_type>[A-Za-z]{1,64})/(?P<resource_id>[A-Za-z0-9\\-.]{1,64})$", PATH_VALUES
    ) == ("/fhir/Patient/99999999999999999999999")
    assert concrete("clinical/patients/<uuid:patient_id>/", PATH_VALUES) == (
        "/clinical/patients/00000000-0000-4000-8000-00000000abcd/"
    )
    assert concrete("identity/approvals/<int:assignment_id>/<str:decision>/", ODD_PATH_VALUES) == (
        "/identity/approvals/0/0/"
    )
    with pytest.raises(Resolver404):
        resolve("/no/such/route/")


def _failing_view(request, number):
    raise RuntimeError("a route that fails on any input")


# The URLconf of the check below: one route whose view always raises.
urlpatterns = [urls.path("fails/<int:number>/", login_not_required(_failing_view))]


@override_settings(ROOT_URLCONF=__name__)
def test_the_fuzzer_reports_a_route_that_answers_500():
    """The fuzzer's own check: an exception in a view is a 500 response, and
    every probe of the walk reports it (the status is checked, not the log)."""
    paths = fuzz_paths()
    assert paths == ["/fails/0/", "/fails/99999999999999999999999/"]
    errors = _server_errors(lambda: (Client(raise_request_exception=False), {}), paths)
    assert len(errors) == len(paths) * len(list(probes(paths[0])))
    assert errors[0] == "GET end of calendar /fails/0/: 500"

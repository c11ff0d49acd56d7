"""The authorization matrix of the routes ADR 0540-0542 added: POST patient
search (REST and FHIR), the standalone-launch patient picker, and the OpenID
Connect endpoints — every role, and anonymously. Who may search is written
out by hand (the roles with `clinical:patient:read`), so a role widened or
narrowed in roles.py shows up here."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client

from safeward.identity.models import NetworkZone
from safeward.identity.network import zone_table
from safeward.identity.roles import CATALOG
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.fhir.helpers import app, authorize_query, pkce

pytestmark = pytest.mark.django_db

SEARCHERS = {"physician", "nurse", "registration_clerk", "billing_clerk", "lab_technician", "pharmacist"}
FORM = "application/x-www-form-urlencoded"


def _routes(client: Client) -> dict[str, int]:
    return {
        "rest search": client.post(
            "/api/v1/clinical/patients/search/", {"name": "nobody"}, content_type="application/json"
        ).status_code,
        "rest get search": client.get("/api/v1/clinical/patients/?name=nobody").status_code,
        "fhir search": client.post(
            "/fhir/Patient/_search", urlencode({"name": "nobody"}), content_type=FORM
        ).status_code,
        "picker": client.get("/o/authorize/patient/").status_code,
        "discovery": client.get("/o/.well-known/openid-configuration").status_code,
        "jwks": client.get("/o/.well-known/jwks.json").status_code,
    }


def test_every_role_and_anonymous():
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8"], clinical=True)
    zone_table.clear()
    assert {
        spec.code for spec in CATALOG if "clinical:patient:read" in {p.value for p in spec.permissions}
    } == (SEARCHERS)
    application = app()
    _, challenge = pkce()
    query = authorize_query(application, "launch/patient patient/*.rs", challenge)
    mismatches = []
    for spec in CATALOG:
        client = Client()
        sign_in(client, UserFactory(roles=[spec.code], totp_secret=True))
        client.get("/o/authorize/", query)  # parks the request for the picker
        got = _routes(client)
        searcher = spec.code in SEARCHERS
        want = {
            "rest search": 200 if searcher else 403,
            "rest get search": 405 if searcher else 403,
            "fhir search": 200 if searcher else 403,
            "picker": 200 if searcher else 403,
            "discovery": 200,
            "jwks": 200,
        }
        mismatches += [
            f"{spec.code} {name}: got {got[name]}, want {want[name]}"
            for name in want
            if got[name] != want[name]
        ]
    anonymous = _routes(Client())
    want_anonymous = {
        "rest search": 401,
        "rest get search": 401,
        "fhir search": 401,
        "picker": 302,
        "discovery": 200,
        "jwks": 200,
    }
    mismatches += [
        f"anonymous {name}: got {anonymous[name]}, want {want}"
        for name, want in want_anonymous.items()
        if anonymous[name] != want
    ]
    assert not mismatches, "\n".join(mismatches)

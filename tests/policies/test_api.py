"""The policy library's REST API: the published documents for every
account, who acknowledged for the library's keepers (an LMS reads it); bad
filters are a clear 400."""

from __future__ import annotations

import pytest

from safeward.policies import services
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_account_reads_the_published_documents(client, aup):
    sign_in(client, UserFactory(roles=["nurse"], totp_secret=True))
    listed = client.get("/api/v1/policies/documents/").json()
    assert [d["code"] for d in listed] == ["acceptable-use"]
    assert listed[0]["required_roles"] == ["nurse"]
    one = client.get("/api/v1/policies/documents/acceptable-use/").json()
    assert one["revisions"][0]["number"] == 1
    assert "Lock the screen" in one["text"]
    assert len(one["revisions"][0]["content_sha256"]) == 64


def test_the_keepers_read_who_acknowledged_and_bad_filters_are_refused(client, aup, officer):
    nurse = UserFactory(roles=["nurse"], username="nurse.ada")
    services.acknowledgement_record(actor=nurse, revision_id=aup.current_revision_id)
    sign_in(client, officer)
    found = client.get(
        "/api/v1/policies/acknowledgements/", {"document": "acceptable-use", "revision": 1}
    ).json()
    assert [(a["username"], a["revision"]) for a in found] == [("nurse.ada", 1)]
    assert client.get("/api/v1/policies/acknowledgements/", {"username": "nobody"}).json() == []
    for params in ({"document": "nope"}, {"revision": "1"}, {"document": "acceptable-use", "revision": "x"},
                   {"document": "acceptable-use", "revision": "7"}, {"username": "u" * 151}):  # fmt: skip
        assert client.get("/api/v1/policies/acknowledgements/", params).status_code == 400


def test_the_schema_describes_the_policy_endpoints(client, officer):
    sign_in(client, officer)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content.decode()
    for operation in ("policies_documents_list", "policies_documents_read", "policies_acknowledgements_list"):
        assert operation in schema

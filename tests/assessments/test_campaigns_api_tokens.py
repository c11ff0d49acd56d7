"""Bearer tokens on the campaign and risk API: the officers' token with
`read` reads and with `write` writes; the OpenAPI schema documents every
operation."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.assessments.campaign_helpers import campaign, people
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db


def test_tokens_need_read_to_read_and_write_to_write():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    client = Client()
    reader = bearer(token(assessor, "openid fhirUser read"))
    writer = bearer(token(assessor, "openid fhirUser read write"))
    assert client.get(f"/api/v1/assessments/campaigns/{opened.pk}/", **reader).status_code == 200
    assert client.get("/api/v1/risks/", **reader).status_code == 200
    question = opened.questions.first()
    url = f"/api/v1/assessments/questions/{question.pk}/answer/"
    assert client.post(url, {"maturity": 2}, content_type="application/json", **reader).status_code == 403
    assert client.post(url, {"maturity": 2}, content_type="application/json", **writer).status_code == 200


def test_the_schema_documents_the_operations():
    assessor, _ = people()
    client = Client()
    sign_in(client, assessor)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for operation in (
        "assessment_campaigns_create",
        "assessment_campaigns_sign_off",
        "assessment_latest_maturity",
        "assessment_findings_update",
        "risks_create",
        "risks_heat_map",
        "risks_review",
    ):
        assert operation in schema

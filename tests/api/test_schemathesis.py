"""Property-based tests of the whole REST API against its own OpenAPI schema
(schemathesis, in-process over WSGI) with every one of schemathesis' checks —
the `--checks all` of its command line: no server error, every status, content
type, header and body as declared, bad input refused, no credentials a 401.
Bounded (few examples per operation) to stay fast."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.clinical.conftest import new_patient, relate
from tests.fhir.helpers import token

pytestmark = pytest.mark.django_db(transaction=False)

# `read` fetches the schema; every clinical type with every permission (notes stay out of reach).
SCOPES = "read user/*.cruds"


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes "old" database connections at the end of each
    request; inside a test transaction on PostgreSQL that would close the
    test's own connection (Django's test client disconnects it the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer_header(make_user):
    user = make_user("physician", "registration_clerk")
    patient = new_patient()
    relate(user, patient, "care_team")
    return {"Authorization": f"Bearer {token(user, SCOPES)}"}


# Operations whose valid requests can still be refused for what no OpenAPI schema can say:
# a search needs at least one criterion (and a name prefix long enough), a condition's code
# must be in the ICD-10-CM catalog, a new patient's birth date must be plausible and a phone
# number dialable. Every other check runs on them; every check on the rest.
SEMANTIC_400 = {"clinical_patient_search", "clinical_condition_create", "clinical_patient_register"}


def _property_test(operation, checks, headers):
    @given(case=operation.as_strategy())
    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        case.call_and_validate(headers=headers, checks=checks)

    return check


def test_the_api_conforms_to_its_schema_under_every_check(bearer_header):
    # One test drives every operation (schemathesis' pytest plugin does not run under pytest 9).
    load_all_checks()
    every_check = list(CHECKS.get_all())
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), headers=bearer_header)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    failures = []
    for operation in operations:
        semantic = operation.definition.raw.get("operationId") in SEMANTIC_400
        checks = [c for c in every_check if not (semantic and c is positive_data_acceptance)]
        try:
            _property_test(operation, checks, bearer_header)()
        except Exception as error:  # collect all, report together
            failures.append(f"{operation.label}: {str(error)[:2000]}")
    assert not failures, "\n\n".join(failures)

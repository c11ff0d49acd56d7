"""Property-based tests of the clinical REST API against its own OpenAPI
schema (schemathesis, in-process over WSGI): no server error, every response
conforms to the schema. Bounded (few examples per operation) to stay fast."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
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


def test_clinical_api_conforms_to_its_schema(bearer_header):
    # One test drives every operation (schemathesis' pytest plugin does not run under pytest 9).
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), headers=bearer_header)
    schema = schema.include(path_regex="^/api/v1/clinical/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            # Search needs at least one criterion, which OpenAPI cannot say: a 400 for none is
            # right, so "schema-valid request rejected" is not checked. Every other check is.
            case.call_and_validate(headers=bearer_header, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as error:  # collect all, report together
            failures.append(f"{operation.label}: {str(error)[:2000]}")
    assert not failures, "\n\n".join(failures)

"""The API tests reuse the clinical fixtures: a clinical zone on loopback and
patients created through the gateway."""

from tests.clinical.conftest import clinical_zone, patient  # noqa: F401  # fixtures, re-exported for pytest

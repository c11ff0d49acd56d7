from tests.clinical.conftest import clinical_zone  # noqa: F401 - the clinical network zone for chart reads

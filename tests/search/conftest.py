from tests.audit.conftest import audit_files  # noqa: F401 - own checkpoint file, archive folder and seal key
from tests.clinical.conftest import clinical_zone  # noqa: F401 - the clinical network zone

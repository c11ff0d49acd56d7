import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
application = get_wsgi_application()

# Refuse to serve with a wrong or missing key-encryption key: this raises
# KeyProviderError naming the provider before the first request is accepted.
from safeward.crypto.startup import require_working_keys  # noqa: E402

require_working_keys()

# Everything loaded so far (Django, the apps, the URLconf, the keyring) lives
# as long as the worker: moved out of the collector's reach, a full collection
# no longer walks it. A worker's full collections took ~200 ms at load and
# were the physician's worklist's p99 (bench/README.md, ADR 0594).
gc.collect()
gc.freeze()

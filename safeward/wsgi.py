import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
application = get_wsgi_application()

# Refuse to serve with a wrong or missing key-encryption key: this raises
# KeyProviderError naming the provider before the first request is accepted.
from safeward.crypto.startup import require_working_keys  # noqa: E402

require_working_keys()

"""Settings for the test suite: SafeWard's settings in test mode. The database
is PostgreSQL when SAFEWARD_DATABASE_URL (or DATABASE_URL) is set, SQLite
otherwise."""

import os

os.environ["SAFEWARD_ENV"] = "test"
# The demo seed's synthetic patients (safeward/demo/clinical.py): a handful keeps the demo tests fast.
os.environ.setdefault("SAFEWARD_DEMO_PATIENTS", "12")

from safeward.settings import *  # noqa: F403

# Models made for the crypto tests (tests/crypto/testapp); never in production settings.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.crypto.testapp"]  # noqa: F405

# argon2id at its smallest cost: the real one takes about a second per sign-in
# (tests/hashers.py, ADR 1602); tests/identity/test_passwords.py checks the real one.
PASSWORD_HASHERS = ["tests.hashers.CheapArgon2PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # A throwaway test database needs no commit to wait for its WAL flush:
    # transactional tests and each test's flush commit many times (ADR 1601).
    _options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
    _options["options"] = f"{_options.get('options', '')} -c synchronous_commit=off".strip()

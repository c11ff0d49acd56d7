import pytest


@pytest.fixture
def demo_settings(settings, tmp_path):
    """Demo mode with its var folder in a temporary directory. Passwords are
    hashed with a fast hasher here: these tests are about the seed, not about
    argon2 (tests/demo/test_seed.py's login test keeps the real one)."""
    settings.SAFEWARD_DEMO = True
    settings.VAR_DIR = tmp_path / "var"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings

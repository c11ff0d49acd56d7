"""Configuration that fails loudly, checked the way an operator meets it: a
fresh process importing the settings or running `safeward check` with a
prepared environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.migrated import copy_of_migrated

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3Y-" + "x7Qp" * 16  # synthetic, long enough, not a development key
IMPORT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings; print(settings.SAFEWARD_ENV)"
)


def _environment(tmp_path, **values):
    """The current environment without any SafeWard or database setting, plus `values`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SAFEWARD_", "DJANGO_")) and key != "DATABASE_URL"
    }
    env["DJANGO_SETTINGS_MODULE"] = "safeward.settings"
    env["SAFEWARD_VAR_DIR"] = str(tmp_path / "var")
    env.update({key: str(value) for key, value in values.items()})
    return env


def _production(tmp_path, **overrides):
    values = {
        "SAFEWARD_ENV": "production",
        "SAFEWARD_SECRET_KEY": GOOD_SECRET,
        "SAFEWARD_ALLOWED_HOSTS": "safeward.hospital.example",
        "SAFEWARD_KEY_PROVIDER": "file",
        "SAFEWARD_KEY_DIR": tmp_path / "keys",
        "SAFEWARD_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/safeward_unused",
        "SAFEWARD_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        # The operator's OpenID Connect signing key (ADR 0541).
        "SAFEWARD_OIDC_KEY_FILE": _oidc_key(tmp_path),
    }
    values.update(overrides)
    return _environment(tmp_path, **{key: value for key, value in values.items() if value is not None})


def _oidc_key(tmp_path):
    from safeward.fhir.signing_key import load_or_create_signing_key

    path = tmp_path / "secrets" / "oidc.pem"
    load_or_create_signing_key(path)
    return path


def _run(env, *args):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_complete_production_settings_import(tmp_path):
    result = _run(_production(tmp_path), "-c", IMPORT_SETTINGS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "production"


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("SAFEWARD_SECRET_KEY", "SAFEWARD_SECRET_KEY"),
        ("SAFEWARD_ALLOWED_HOSTS", "SAFEWARD_ALLOWED_HOSTS"),
        ("SAFEWARD_KEY_PROVIDER", "SAFEWARD_KEY_PROVIDER"),
        ("SAFEWARD_DATABASE_URL", "SAFEWARD_DATABASE_URL"),
    ],
)
def test_production_refuses_to_start_without(tmp_path, missing, named):
    result = _run(_production(tmp_path, **{missing: None}), "-c", IMPORT_SETTINGS)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_production_refuses_a_development_secret_key(tmp_path):
    result = _run(
        _production(
            tmp_path, SAFEWARD_SECRET_KEY="insecure-development-key-never-use-in-production-0123456789"
        ),
        "-c",
        IMPORT_SETTINGS,
    )
    assert result.returncode != 0
    assert "SAFEWARD_SECRET_KEY" in result.stderr
    assert GOOD_SECRET not in result.stderr


def test_demo_mode_refuses_production_settings(tmp_path):
    result = _run(_production(tmp_path, SAFEWARD_DEMO="1"), "-c", IMPORT_SETTINGS)
    assert result.returncode != 0
    assert "SAFEWARD_DEMO" in result.stderr


def test_demo_serve_refuses_production_settings(tmp_path):
    result = _run(_production(tmp_path, SAFEWARD_DEMO="1"), "-m", "safeward.cli", "demo", "serve")
    assert result.returncode != 0
    assert "SAFEWARD_DEMO" in result.stderr
    assert not (tmp_path / "var" / "tls").exists()


def test_demo_serve_refuses_without_demo_mode(tmp_path):
    result = _run(_environment(tmp_path), "-m", "safeward.cli", "demo", "serve", "--http-port", "0")
    assert result.returncode != 0
    assert "SAFEWARD_DEMO=1" in result.stderr
    assert not (tmp_path / "var" / "tls").exists()


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory, migrated_sqlite_var):
    """A migrated embedded database for `safeward check` in development mode:
    this module's copy of the run's one real `safeward migrate` (tests/migrated.py)."""
    tmp_path = tmp_path_factory.mktemp("check")
    copy_of_migrated(migrated_sqlite_var, tmp_path)
    return tmp_path


def test_check_fails_with_development_settings(migrated_sqlite):
    result = _run(_environment(migrated_sqlite), "-m", "safeward.cli", "check")
    assert result.returncode != 0
    assert "safeward.E001" in result.stderr  # the development secret key


def test_check_on_an_unmigrated_database_says_to_migrate(tmp_path):
    result = _run(_environment(tmp_path), "-m", "safeward.cli", "check")
    assert result.returncode != 0
    assert "safeward.E013" in result.stderr
    assert "safeward migrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_fails_in_demo_mode(migrated_sqlite):
    result = _run(
        _environment(migrated_sqlite, SAFEWARD_DEMO="1", SAFEWARD_SECRET_KEY=GOOD_SECRET),
        "-m",
        "safeward.cli",
        "check",
    )
    assert result.returncode != 0
    assert "safeward.E006" in result.stderr


@pytest.mark.django_db
def test_check_passes_with_a_complete_production_configuration(tmp_path, settings):
    """Against the test run's own PostgreSQL database (migrated by pytest-django;
    the test's transaction holds no rows that the check would see)."""
    if connection.vendor != "postgresql":
        pytest.skip("production runs on PostgreSQL; run the suite with SAFEWARD_DATABASE_URL")
    database = connection.settings_dict
    url = (
        f"postgres://{database['USER'] or 'postgres'}@127.0.0.1:{database['PORT'] or 5432}/{database['NAME']}"
    )
    # The test database's keyring was wrapped by this run's key-encryption key.
    env = _production(tmp_path, SAFEWARD_DATABASE_URL=url, SAFEWARD_KEY_DIR=settings.SAFEWARD_KEY_DIR)
    result = _run(env, "-m", "safeward.cli", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_oidc_key_file_must_be_a_readable_rsa_key(tmp_path):
    (tmp_path / "not-a-key.pem").write_text("nope")
    for bad in (tmp_path / "missing.pem", tmp_path / "not-a-key.pem"):
        result = _run(_production(tmp_path, SAFEWARD_OIDC_KEY_FILE=bad), "-c", IMPORT_SETTINGS)
        assert result.returncode != 0
        assert "SAFEWARD_OIDC_KEY_FILE" in result.stderr
        assert str(bad) in result.stderr


def _mail_errors(settings, *, production, backend):
    from safeward.identity.checks import check_settings

    settings.PRODUCTION = production
    settings.MAILERS = {"default": {"BACKEND": backend, "OPTIONS": {}}}
    return [message for message in check_settings(None) if message.id == "safeward.E007"]


@pytest.mark.parametrize("kind", ["console", "filebased"])
def test_check_refuses_production_mail_that_is_never_delivered(settings, kind):
    """The vendor questionnaire's one-time code is e-mailed (ADR 1214)."""
    (error,) = _mail_errors(
        settings, production=True, backend=f"django.core.mail.backends.{kind}.EmailBackend"
    )
    assert kind in error.msg
    assert "SAFEWARD_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend" in error.hint
    assert not _mail_errors(
        settings, production=False, backend=f"django.core.mail.backends.{kind}.EmailBackend"
    )


def test_check_accepts_production_mail_over_smtp(settings):
    assert not _mail_errors(settings, production=True, backend="django.core.mail.backends.smtp.EmailBackend")

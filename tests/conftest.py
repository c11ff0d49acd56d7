from __future__ import annotations

import datetime as dt

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from safeward import clock
from safeward.identity import services
from safeward.identity.middleware import SESSION_ID_KEY
from tests import fast_flush, one_door
from tests.factories import UserFactory
from tests.migrated import build_migrated_var

one_door.install()
fast_flush.install()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last (after pytest-django's own ordering, which
    puts the transactional tests after the others): Chromium is launched once
    per run (tests/e2e/conftest.py, ADR 0306) and, while it lives, the test
    thread runs Playwright's event loop and allows Django's async-unsafe calls,
    which no other test should run under. Whole modules move, so that a
    module's fixtures (the real demo server) are still set up once. The sort
    is stable."""
    with_browser = {item.path for item in items if "browser" in getattr(item, "fixturenames", ())}
    items.sort(key=lambda item: item.path in with_browser)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Migrations have built the test database; from here on a statement on a
    clinical table outside the one door fails its test (tests/one_door.py).
    Its content types and permissions are what post_migrate writes
    (tests/fast_flush.py)."""
    from django.db import connection

    with django_db_blocker.unblock():
        fast_flush.remember_catalog(connection)
    one_door.arm()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Django's flush after a transactional test empties every table."""
    with one_door.tearing_down():
        result = yield
    # The keyring keeps what it read for 30 s; the next test (or a session fixture set
    # up before its own fixtures) must read its own key table, not this test's keys.
    from safeward.crypto.keyring import keyring

    keyring().reset()
    return result


@pytest.fixture(autouse=True)
def _one_door_breaches():
    """A breach the code under test caught and swallowed still fails the test."""
    one_door.take_breaches()
    yield
    breaches = one_door.take_breaches()
    assert not breaches, f"statements on clinical tables outside the one door: {breaches}"


@pytest.fixture(autouse=True)
def _clear_cache(db):
    """Throttle counters and TOTP replay markers live in the cache; start clean."""
    from django.core.cache import cache

    cache.clear()
    from safeward.identity.network import zone_table

    zone_table.clear()
    # The keyring keeps the keys it read for 30 s: after another test's keys (a flush
    # makes new first keys), it must read this test's keyring table.
    from safeward.crypto.keyring import keyring

    keyring().reset()


@pytest.fixture(scope="session")
def _demo_snapshot(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo seed's result on an empty database, taken once per run (ADR 1600)."""
    from tests.demo import snapshot

    folder = tmp_path_factory.mktemp("demo-snapshot")
    with django_db_blocker.unblock():
        return snapshot.capture(folder / "var", folder / "pristine-var")


@pytest.fixture
def seeded_demo(_demo_snapshot, settings):
    """The demo hospital as `safeward demo seed` leaves it on an empty
    database: demo mode, its VAR_DIR (credentials file, shared drive...) and
    fast password hashes, like tests/demo's `demo_settings`. Request it
    before anything writes to the database; the test needs database access
    (the django_db mark or the db/transactional_db fixtures)."""
    from tests.demo import snapshot

    settings.SAFEWARD_DEMO = True
    settings.VAR_DIR = _demo_snapshot.var_dir
    settings.PASSWORD_HASHERS = snapshot.DEMO_HASHERS
    snapshot.restore(_demo_snapshot)
    return settings


@pytest.fixture(scope="session")
def migrated_sqlite_var(tmp_path_factory):
    """A var folder (embedded database and its key folder) that a real
    `safeward migrate` built in a fresh process, once per run: the modules
    that start real processes on a migrated database (the demo's production
    settings and gunicorn, the log test's server) each take a copy of it
    (`tests.migrated.copy_of_migrated`) instead of migrating again (ADR 0306)."""
    return build_migrated_var(tmp_path_factory.mktemp("migrated") / "var")


@pytest.fixture
def frozen_clock():
    frozen = clock.FrozenClock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
    previous = clock.install(frozen)
    yield frozen
    clock.install(previous)


def totp_now(secret: str, offset: int = 0) -> str:
    import time

    from allauth.mfa import app_settings

    counter = int(time.time()) // app_settings.TOTP_PERIOD + offset
    return format_hotp_value(hotp_value(secret, counter))


def sign_in(client, user, *, mfa: bool = True):
    """A signed-in session as the real login creates it, without the HTTP
    steps (tests of the login flow itself go through the views)."""
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    user_session = services.session_start(
        user=user,
        session_key=session.session_key,
        client_ip="127.0.0.1",
        network_zone="outside",
        user_agent="pytest",
        mfa_at_now=mfa,
    )
    session[SESSION_ID_KEY] = str(user_session.pk)
    session.save()
    return user_session


@pytest.fixture
def decryptions(monkeypatch) -> list[tuple[bytes, bytes]]:
    """Every value the keyring decrypts from here on, as (ciphertext,
    associated data): clear it before the part a test counts."""
    from safeward.crypto import keyring as keyring_module

    opened: list[tuple[bytes, bytes]] = []
    real = keyring_module.Keyring._open_padded

    def counted(self, blob, associated_data):
        opened.append((blob, associated_data))
        return real(self, blob, associated_data)

    monkeypatch.setattr(keyring_module.Keyring, "_open_padded", counted)
    return opened


@pytest.fixture
def make_user(db):
    def make(*roles: str, mfa: bool = True, **kwargs):
        return UserFactory(roles=list(roles), totp_secret=mfa, **kwargs)

    return make


@pytest.fixture
def signed_in(client, make_user):
    """signed_in("physician") -> (client, user), signed in with a fresh second factor."""

    def make(*roles: str, **kwargs):
        user = make_user(*roles, **kwargs)
        sign_in(client, user)
        return client, user

    return make

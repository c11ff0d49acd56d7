"""Password rules per NIST SP 800-63B and the argon2id parameters."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from safeward import settings as production
from safeward.identity import services
from safeward.identity.passwords import MAXIMUM_LENGTH

pytestmark = pytest.mark.django_db

# OWASP Password Storage Cheat Sheet, argon2id minimum: m=19 MiB, t=2, p=1.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_ITERATIONS = 2


def codes(password: str, user=None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return {str(e.code) for e in error.error_list}
    return set()


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("short pass1", {"password_too_short"}),  # 11 characters
        ("a" * 11, {"password_too_short"}),
        ("password1234", {"password_blocklisted"}),
        ("Password1234!", {"password_blocklisted"}),  # case and stuck-on digits do not help
        ("qwertyuiop123", {"password_blocklisted"}),
        ("iloveyou2026!!", {"password_blocklisted"}),
        ("x" * (MAXIMUM_LENGTH + 1), {"password_too_long"}),
    ],
)
def test_rejected(password, expected):
    assert expected <= codes(password)


@pytest.mark.parametrize(
    "password",
    [
        "lantern orchard violet",  # only lowercase letters and spaces: no composition rules
        "correct horse battery staple",
        "x7#kQ!m2pL9z",  # exactly 12
        "ünïcödé pässwörd wörks",
        "y" * 3 + "z" * (MAXIMUM_LENGTH - 3),  # the maximum
    ],
)
def test_accepted(password):
    assert codes(password) == set()


def test_hospital_words_are_blocked():
    blocked = codes("SafeWard2026!")
    assert "password_blocklisted" in blocked or "password_too_short" in blocked
    assert "password_blocklisted" in codes("hospital12345")


def test_password_similar_to_the_username_is_refused(make_user):
    user = make_user(username="margaret.hamilton")
    assert "password_too_similar" in codes("margaret.hamilton1", user)


def test_no_forced_periodic_change():
    from django.conf import settings

    assert not hasattr(settings, "PASSWORD_EXPIRY_DAYS")
    names = [v["NAME"] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert not any("Character" in name or "Complexity" in name for name in names)


def test_stored_hash_is_argon2id_at_or_above_owasp(make_user, settings):
    # The production hasher, not the test suite's cheap one (tests/hashers.py, ADR 1602).
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    user = make_user("nurse")
    services.user_set_password(actor=None, user=user, password="lantern orchard violet")
    user.refresh_from_db()
    algorithm, variety, version, params, _salt, _digest = user.password.split("$")
    assert (algorithm, variety, version) == ("argon2", "argon2id", "v=19")
    values = dict(item.split("=") for item in params.split(","))
    assert int(values["m"]) >= OWASP_MIN_MEMORY_KIB
    assert int(values["t"]) >= OWASP_MIN_ITERATIONS
    assert int(values["p"]) >= 1
    assert user.check_password("lantern orchard violet")
    assert "lantern" not in user.password


def test_password_change_is_audited_without_the_password(make_user):
    from safeward.audit.models import AuditEvent

    user = make_user("nurse")
    services.user_set_password(actor=user, user=user, password="lantern orchard violet")
    event = AuditEvent.objects.get(action="password_change")
    assert event.detail == {"by_self": True, "sessions_ended": 0}
    assert "lantern" not in str(list(AuditEvent.objects.values()))


def test_refused_password_changes_nothing(make_user):
    user = make_user("nurse")
    before = user.password
    with pytest.raises(ValidationError):
        services.user_set_password(actor=user, user=user, password="password1234")
    user.refresh_from_db()
    assert user.password == before

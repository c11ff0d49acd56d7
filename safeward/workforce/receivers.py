"""A terminated account that tries to sign in is recorded as an event the
detection rules alert on (services.access_after_termination_record).

Django sends `user_login_failed` for every failed `authenticate()` (allauth
included), with the password already removed from the credentials."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_login_failed

from safeward.identity.models import User
from safeward.workforce.models import Person


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = credentials.get("username") or credentials.get("login")
    if not isinstance(username, str) or not username:
        return
    user = User.objects.filter(username=username).first()
    if user is None:
        return
    person = Person.objects.filter(user=user).only("status", "access_ends_at").first()
    if person is None:
        return
    from safeward import clock

    ended = person.status == Person.Status.TERMINATED or (
        person.access_ends_at is not None and person.access_ends_at <= clock.now()
    )
    if ended:
        from safeward.workforce.services import access_after_termination_record

        access_after_termination_record(user=user, channel="login")


def connect() -> None:
    user_login_failed.connect(on_login_failed, dispatch_uid="sw_workforce_login_failed")

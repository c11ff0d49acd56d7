"""Django's database session store, with the read every signed-in request
makes (the session row by its key, not expired) compiled once per thread
and prepared on the PostgreSQL server once per connection (ADR 0309).
Same table, same rows, same answer: a missing or expired session loads as
empty and drops its key, as Django's store does. Writes are Django's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone

from safeward.prepared import Compiled


def _live_session(*, session_key: str, now: dt.datetime) -> QuerySet[Session]:
    """Django's `Session.objects.get(session_key=..., expire_date__gt=now)`;
    the key is the primary key, so there is one row or none."""
    return Session.objects.filter(session_key=session_key, expire_date__gt=now)


_SESSION_LOAD = Compiled("identity.session_load", _live_session)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        if self.get_model_class() is not Session:  # a subclass with its own model: Django's read
            return super()._get_session_from_db()  # type: ignore[misc]
        key = self.session_key
        if key is None:  # Django's `get(session_key=None)` finds nothing either
            self._session_key = None
            return None
        found = _SESSION_LOAD.rows(session_key=key, now=timezone.now())
        if not found:
            self._session_key = None
            return None
        return found[0]

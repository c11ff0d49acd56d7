"""Who is acting, from where, in which request: set once per request by
identity.middleware.RequestContextMiddleware (the OAuth client by the API's
token authentication, identity.api_auth) and read by audit_record, so callers
never pass network details around."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, replace

# Installation (the first keys created by `migrate`, the demo seed) is done by
# SafeWard itself: its events carry this source, and those recorded without a
# user are attributed to SETUP_ACTOR (ADR 0404).
SETUP_SOURCE = "setup"
SETUP_ACTOR = "system:setup"


@dataclass(frozen=True)
class AuditContext:
    request_id: str = ""
    client_ip: str | None = None
    network_zone: str = ""
    user_agent: str = ""
    session_id: str = ""
    # Which part of SafeWard observes the event: web, api, cli, worker.
    source: str = ""
    # The OAuth client (application) a bearer token was issued to: the
    # receiving application of an API disclosure (ADR 0208).
    client_id: str = ""
    client_name: str = ""


_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "safeward_audit_context",
    default=AuditContext(),  # noqa: B039 - a frozen dataclass, never mutated
)


def current() -> AuditContext:
    return _current.get()


def bind(context: AuditContext) -> contextvars.Token[AuditContext]:
    return _current.set(context)


def reset(token: contextvars.Token[AuditContext]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def setup() -> Iterator[None]:
    """Record the events of an installation step as SafeWard's setup."""
    token = bind(replace(current(), source=SETUP_SOURCE))
    try:
        yield
    finally:
        reset(token)

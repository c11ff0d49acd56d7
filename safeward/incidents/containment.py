"""Containment actions from a case, and the registry other apps fill
(ADR 1403).

Incidents sits below vendors and devices in the app graph, so it cannot
call them; each app registers its own action from its `AppConfig.ready()`:

    from safeward.incidents.containment import register_action
    register_action(
        code="vendor_suspend",
        label="Suspend a vendor",
        permission=Perm.VENDOR_RECORD_MANAGE,
        run=suspend_for_incident,   # (actor=User, incident_id=int, target=str) -> str
        target_label="Vendor id",
    )

`run` does the work through its own services (and its own audit events) and
returns a one-line summary with no patient data; the case records the
action on its timeline and writes one audit event naming the action. `run`
raises `ContainmentRefused(message)` to refuse (bad target, not found). The
built-in actions lock an account, end its sessions and revoke its OAuth
tokens through identity's services (as detection's containment does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from safeward.identity import services as identity_services
from safeward.identity.models import User
from safeward.identity.permissions import Perm


class ContainmentRefused(Exception):
    """The action cannot run on that target; the message says why (shown to the person)."""


Run = Callable[..., str]


@dataclass(frozen=True)
class ContainmentAction:
    code: str
    label: str
    permission: str
    run: Run
    target_label: str = "Username"


_registry: dict[str, ContainmentAction] = {}


def register_action(
    code: str, label: str, permission: str, run: Run, *, target_label: str = "Username"
) -> None:
    """Register (or replace, on a reload) containment action `code`."""
    if not code.replace("_", "").isalnum() or len(code) > 40:
        raise ValueError("A containment code is up to 40 letters, digits and underscores.")
    _registry[code] = ContainmentAction(code, label, permission, run, target_label)


def actions() -> list[ContainmentAction]:
    return sorted(_registry.values(), key=lambda action: action.label)


def action_get(code: str) -> ContainmentAction | None:
    return _registry.get(code)


def _subject(actor: User, target: str) -> User:
    subject = User.objects.select_for_update().filter(username=target.strip()).first()
    if subject is None:
        raise ContainmentRefused("No account has that username.")
    if subject.pk == actor.pk:
        raise ContainmentRefused("You cannot contain your own account; ask another officer.")
    return subject


def _lock(*, actor: User, incident_id: int, target: str) -> str:
    subject = _subject(actor, target)
    if subject.is_locked:
        raise ContainmentRefused(f"{subject.username} is already locked.")
    reason = f"containment from incident {incident_id}"
    sessions = identity_services.user_sessions_end_all(actor=None, user=subject, reason=reason)
    identity_services.user_lock(actor=None, user=subject, reason=reason)
    return f"Locked {subject.username} and ended {sessions} sessions."


def _sessions(*, actor: User, incident_id: int, target: str) -> str:
    subject = _subject(actor, target)
    ended = identity_services.user_sessions_end_all(
        actor=None, user=subject, reason=f"containment from incident {incident_id}"
    )
    return f"Ended {ended} sessions of {subject.username}."


def _tokens(*, actor: User, incident_id: int, target: str) -> str:
    subject = _subject(actor, target)
    revoked = identity_services.user_tokens_revoke(
        actor=None, user=subject, reason=f"containment from incident {incident_id}"
    )
    return f"Revoked {revoked} OAuth tokens of {subject.username}."


def register_builtin() -> None:
    register_action("account_lock", "Lock an account", Perm.DETECTION_ALERT_CONTAIN, _lock)
    register_action("sessions_end", "End an account's sessions", Perm.DETECTION_ALERT_CONTAIN, _sessions)
    register_action(
        "tokens_revoke", "Revoke an account's OAuth tokens", Perm.DETECTION_ALERT_CONTAIN, _tokens
    )

"""Extension points other apps register into, so workforce does not import them.

**Access cut-offs at termination.** When a termination takes effect,
`services.termination_apply` calls every registered cut-off inside its own
transaction, after the account is disabled and its sessions and OAuth tokens
are gone. The clinical app registers its break-glass cut-off here when
break-glass arrives:

    from safeward.workforce.extensions import register_termination_cutoff

    def end_break_glass(*, user, reason):   # returns how many grants it ended
        ...

    register_termination_cutoff("breakglass", end_break_glass)

Until then the "breakglass" cut-off is not registered and the termination's
audit event records `cutoffs: []`. A cut-off that raises aborts the whole
termination (nothing half-applied); the worker retries it.

**Recovery sources.** Facilities and the asset register can add items to a
leaver's recovery list (`register_recovery_source`); each source returns
`RecoveryLine`s for the person.

**Person changes.** Apps that grant something to a person (facilities: entry to
secure areas) register a hook with `register_person_change_hook`; workforce calls
every hook inside the transaction of `termination_apply` (event "termination")
and `person_position_change` (event "position_change"), so the grant ends in the
same transaction that ends system access. A hook that raises aborts the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from safeward.identity.models import User
    from safeward.workforce.models import Person


class TerminationCutoff(Protocol):
    def __call__(self, *, user: User, reason: str) -> int: ...


@dataclass(frozen=True)
class RecoveryLine:
    kind: str
    identifier: str
    description: str = ""


RecoverySource = Callable[["Person"], list[RecoveryLine]]


class PersonChangeHook(Protocol):
    def __call__(self, *, person: Person, event: str, reason: str) -> int: ...


_cutoffs: dict[str, TerminationCutoff] = {}
_person_hooks: dict[str, PersonChangeHook] = {}
_recovery_sources: dict[str, RecoverySource] = {}


def register_termination_cutoff(name: str, cutoff: TerminationCutoff) -> None:
    """Register (or replace) a named cut-off, e.g. "breakglass"."""
    _cutoffs[name] = cutoff


def unregister_termination_cutoff(name: str) -> None:
    _cutoffs.pop(name, None)


def termination_cutoffs() -> dict[str, TerminationCutoff]:
    return dict(_cutoffs)


def register_recovery_source(name: str, source: RecoverySource) -> None:
    _recovery_sources[name] = source


def unregister_recovery_source(name: str) -> None:
    _recovery_sources.pop(name, None)


def recovery_sources() -> dict[str, RecoverySource]:
    return dict(_recovery_sources)


def register_person_change_hook(name: str, hook: PersonChangeHook) -> None:
    """Register (or replace) a named hook run on termination and position change."""
    _person_hooks[name] = hook


def unregister_person_change_hook(name: str) -> None:
    _person_hooks.pop(name, None)


def person_change_hooks() -> dict[str, PersonChangeHook]:
    return dict(_person_hooks)

"""Key operations. Each takes the acting user (or, from the command line, a
name), runs in a transaction and records ``Action.KEY_OPERATION`` through the
audit interface; refusals are recorded too (outcome ``denied``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.crypto import conf
from safeward.crypto.errors import KeyOperationRefused
from safeward.crypto.keyring import Purpose, create_key, ensure_keys, keyring
from safeward.crypto.models import DataKey
from safeward.crypto.selectors import keyring_status
from safeward.crypto.stores import all_stores
from safeward.one_door import entry

if TYPE_CHECKING:
    from safeward.identity.models import User

ROTATABLE = (Purpose.DATA, Purpose.SIGNING)


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user (web) or a named operator (command line)."""

    user: User | None = None
    name: str = ""

    def audit(self) -> dict[str, Any]:
        return {"actor": self.user, "actor_username": self.name}


def _record(
    actor: Actor,
    operation: str,
    *,
    outcome: Outcome = Outcome.SUCCESS,
    key: DataKey | None = None,
    **detail: Any,
) -> None:
    audit_record(
        action=Action.KEY_OPERATION,
        outcome=outcome,
        resource_type="crypto.datakey",
        resource_id=f"{key.purpose}:v{key.version}" if key is not None else "",
        detail={"operation": operation, **detail},
        **actor.audit(),
    )


def _refuse(actor: Actor, operation: str, message: str, **detail: Any) -> KeyOperationRefused:
    with transaction.atomic():
        _record(actor, operation, outcome=Outcome.DENIED, refused=message[:200], **detail)
    return KeyOperationRefused(message)


def keys_ensure(*, actor: Actor) -> list[DataKey]:
    """Create the first key of each purpose that has none (idempotent)."""
    created = ensure_keys()
    for key in created:
        with transaction.atomic():
            _record(actor, "create", key=key, purpose=key.purpose, version=key.version)
    return created


def key_rotate(*, actor: Actor, purpose: str = Purpose.DATA) -> DataKey:
    """A new primary key of `purpose`; the previous one stays active (decrypt only)."""
    if purpose not in ROTATABLE:
        raise _refuse(
            actor,
            "rotate",
            f"{purpose} keys do not rotate with `keys rotate`: "
            "every blind index would have to be recomputed.",
            purpose=purpose,
        )
    ring = keyring()
    with transaction.atomic():
        previous = (
            DataKey.objects.select_for_update().filter(purpose=purpose, state=DataKey.State.PRIMARY).first()
        )
        key = create_key(purpose=purpose, provider=ring.provider)
        _record(
            actor,
            "rotate",
            key=key,
            purpose=purpose,
            version=key.version,
            previous_version=previous.version if previous else None,
        )
    ring.refresh()
    return key


def retire_grace() -> dt.timedelta:
    return dt.timedelta(seconds=2 * conf.keyring_refresh_seconds())


def key_retire(*, actor: Actor, version: int, purpose: str = Purpose.DATA) -> DataKey:
    """Destroy a key version's material once nothing depends on it."""
    key = DataKey.objects.filter(purpose=purpose, version=version).first()
    detail: dict[str, Any] = {"purpose": purpose, "version": version}
    if key is None:
        raise _refuse(actor, "retire", f"There is no {purpose} key v{version}.", **detail)
    if key.state == DataKey.State.RETIRED:
        raise _refuse(actor, "retire", f"{purpose} key v{version} is already retired.", **detail)
    if key.state == DataKey.State.PRIMARY:
        raise _refuse(actor, "retire", f"{purpose} key v{version} is the primary; rotate first.", **detail)
    if purpose == Purpose.DATA:
        protects = keyring_status().key(purpose, version).protects
        if protects:
            raise _refuse(
                actor,
                "retire",
                f"{purpose} key v{version} still protects {protects} values; run `safeward keys reencrypt`.",
                protects=protects,
                **detail,
            )
    if key.demoted_at is not None and clock.now() - key.demoted_at < retire_grace():
        raise _refuse(
            actor,
            "retire",
            f"{purpose} key v{version} stopped being primary less than {retire_grace().seconds} s ago; "
            "a running process may still be encrypting with it. Try again shortly.",
            **detail,
        )
    with transaction.atomic():
        updated = (
            DataKey.objects.filter(pk=key.pk)
            .exclude(state=DataKey.State.PRIMARY)
            .update(state=DataKey.State.RETIRED, wrapped_key=b"", retired_at=clock.now())
        )
        if not updated:
            raise KeyOperationRefused(f"{purpose} key v{version} became primary meanwhile.")
        key.refresh_from_db()
        _record(actor, "retire", key=key, **detail)
    keyring().refresh()
    return key


@dataclasses.dataclass
class ReencryptResult:
    moved: int
    remaining: int
    primary_version: int


@entry  # counts and moves ciphertext in every table, clinical ones too
def keys_reencrypt(
    *,
    actor: Actor,
    batch_size: int = 500,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ReencryptResult:
    """Move every value to the primary data key, batch by batch. Safe to
    interrupt at any point and to run while SafeWard serves: each batch is
    its own short transaction and each row a compare-and-swap."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ring = keyring()
    ring.refresh()
    primary = ring.primary()
    stores = all_stores()
    pending = sum(store.pending(primary.key_id) for store in stores)
    with transaction.atomic():
        _record(
            actor, "reencrypt", key=DataKey.objects.get(key_id=primary.key_id), stage="start", pending=pending
        )
    if on_start is not None:
        on_start(pending)
    moved = 0
    try:
        for store in stores:
            for count in store.reencrypt(batch_size=batch_size, on_batch=on_batch or (lambda n: None)):
                moved += count
    finally:
        remaining = sum(store.pending(ring.primary().key_id) for store in stores)
        with transaction.atomic():
            _record(
                actor,
                "reencrypt",
                outcome=Outcome.SUCCESS if remaining == 0 else Outcome.ERROR,
                stage="finish" if remaining == 0 else "stopped",
                moved=moved,
                remaining=remaining,
            )
    return ReencryptResult(moved=moved, remaining=remaining, primary_version=ring.primary().version)

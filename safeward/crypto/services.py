"""Key operations. Each takes the acting user (or, from the command line, a
name), runs in a transaction and records ``Action.KEY_OPERATION`` through the
audit interface; refusals are recorded too (outcome ``denied``).

The audit app sits above the keyring (its archives are encrypted under the
data keys), so it registers its writer here in its ``ready()``
(`register_key_event_recorder`) and this module imports nothing of audit.
With no writer registered, recording raises as a failed audit write does
(ADR 0566)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from safeward import clock
from safeward.crypto import conf
from safeward.crypto.errors import KeyOperationRefused, KeyringError
from safeward.crypto.keyring import Purpose, create_key, ensure_keys, keyring, wrap_associated_data
from safeward.crypto.models import DataKey
from safeward.crypto.providers import KeyProvider
from safeward.crypto.selectors import COUNTED, keyring_status
from safeward.crypto.stores import stores_of
from safeward.one_door import entry

ROTATABLE = (Purpose.DATA, Purpose.BLIND_INDEX, Purpose.SIGNING)


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user (web) or a named operator (command line)."""

    user: AbstractBaseUser | None = None
    name: str = ""


# The audit vocabulary's outcomes a key operation ends with.
KeyOutcome = Literal["success", "denied", "error"]


@dataclasses.dataclass(frozen=True)
class KeyEvent:
    """One key operation, as the registered recorder writes it to the audit trail."""

    actor: Actor
    operation: str
    outcome: KeyOutcome
    key: str  # "<purpose>:v<version>", or "" when the operation names no one key
    detail: dict[str, Any]


_KEY_EVENT_RECORDERS: list[Callable[[KeyEvent], object]] = []


def register_key_event_recorder(recorder: Callable[[KeyEvent], object]) -> None:
    _KEY_EVENT_RECORDERS[:] = [recorder]


def _record(
    actor: Actor,
    operation: str,
    *,
    outcome: KeyOutcome = "success",
    key: DataKey | None = None,
    **detail: Any,
) -> None:
    if not _KEY_EVENT_RECORDERS:
        raise KeyringError("No audit writer is registered for key operations (audit's ready()).")
    _KEY_EVENT_RECORDERS[0](
        KeyEvent(
            actor=actor,
            operation=operation,
            outcome=outcome,
            key=f"{key.purpose}:v{key.version}" if key is not None else "",
            detail=detail,
        )
    )


def _refuse(actor: Actor, operation: str, message: str, **detail: Any) -> KeyOperationRefused:
    with transaction.atomic():
        _record(actor, operation, outcome="denied", refused=message[:200], **detail)
    return KeyOperationRefused(message)


def keys_ensure(*, actor: Actor) -> list[DataKey]:
    """Create the first key of each purpose that has none (idempotent)."""
    created = ensure_keys()
    for key in created:
        with transaction.atomic():
            _record(actor, "create", key=key, purpose=key.purpose, version=key.version)
    return created


def key_rotate(*, actor: Actor, purpose: str = Purpose.DATA) -> DataKey:
    """A new primary key of `purpose`; the previous one stays active (data:
    decrypt only; blind index: searched too, until `keys reencrypt` has
    recomputed every index under the new key)."""
    if purpose not in ROTATABLE:
        raise _refuse(actor, "rotate", f"There are no {purpose} keys.", purpose=purpose)
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


def retire_grace(purpose: str = Purpose.DATA) -> dt.timedelta:
    """How long a key must have been out of primary use before it retires:
    twice the keyring refresh (a process with a stale cache may still encrypt
    with it) or the longest lifetime of a registered transient token kind."""
    lifetimes = [store.lifetime for store in stores_of(purpose) if store.lifetime is not None]
    return max([dt.timedelta(seconds=2 * conf.keyring_refresh_seconds()), *lifetimes])


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
    if purpose in COUNTED:
        protects = keyring_status().key(purpose, version).protects
        if protects:
            raise _refuse(
                actor,
                "retire",
                f"{purpose} key v{version} still protects {protects} values; run `safeward keys reencrypt`.",
                protects=protects,
                **detail,
            )
    if key.demoted_at is not None and clock.now() - key.demoted_at < retire_grace(purpose):
        raise _refuse(
            actor,
            "retire",
            f"{purpose} key v{version} stopped being primary less than "
            f"{int(retire_grace(purpose).total_seconds())} s ago; a running process may still be "
            "encrypting with it, or a token it sealed may still be in use. Try again later.",
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
    """Move every value to the primary key of its purpose, batch by batch:
    ciphertexts to the primary data key, blind indexes and prefix tokens
    recomputed under the primary blind-index key. Safe to interrupt at any
    point and to run while SafeWard serves: each batch is its own short
    transaction and each row a compare-and-swap."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ring = keyring()
    ring.refresh()
    primary = ring.primary()
    stores = [*stores_of(Purpose.DATA), *stores_of(Purpose.BLIND_INDEX)]

    def still_pending() -> int:
        return sum(store.pending(ring.primary(store.purpose).key_id) for store in stores)

    pending = still_pending()
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
        remaining = still_pending()
        with transaction.atomic():
            _record(
                actor,
                "reencrypt",
                outcome="success" if remaining == 0 else "error",
                stage="finish" if remaining == 0 else "stopped",
                moved=moved,
                remaining=remaining,
            )
    return ReencryptResult(moved=moved, remaining=remaining, primary_version=ring.primary().version)


def keys_rewrap(*, actor: Actor, new_provider: KeyProvider) -> int:
    """Wrap every key of the keyring under the KEK `new_provider` holds, in one
    transaction (all rows switch at once, or none), each new wrapping checked
    by unwrapping it before the commit. The old KEK is not touched: keep it
    until SafeWard has started with the new one. Returns the keys rewrapped."""
    ring = keyring()
    old_provider = ring.provider
    detail: dict[str, Any] = {
        "from_provider": old_provider.name,
        "from_kek": old_provider.fingerprint(),
        "to_provider": new_provider.name,
        "to_kek": new_provider.fingerprint(),
    }
    if (new_provider.name, new_provider.fingerprint()) == (old_provider.name, old_provider.fingerprint()):
        raise _refuse(
            actor, "rewrap", f"The new KEK is the one {old_provider.describe()} already holds.", **detail
        )
    with transaction.atomic():
        rows = list(DataKey.objects.select_for_update().exclude(state=DataKey.State.RETIRED).order_by("pk"))
        for row in rows:
            material = ring.unwrap_key(
                row.purpose,
                row.version,
                row.key_id,
                bytes(row.wrapped_key),
                row.provider,
                row.kek_fingerprint,
            )
            associated_data = wrap_associated_data(row.purpose, row.key_id)
            wrapped = new_provider.wrap(material, associated_data=associated_data)
            if new_provider.unwrap(wrapped, associated_data=associated_data) != material:
                raise KeyringError(
                    f"{new_provider.describe()} did not give back the key it wrapped; nothing changed."
                )
            row.wrapped_key = wrapped
            row.provider = new_provider.name
            row.kek_fingerprint = new_provider.fingerprint()
            row.save(update_fields=["wrapped_key", "provider", "kek_fingerprint"])
        _record(actor, "rewrap", keys=len(rows), **detail)
    return len(rows)

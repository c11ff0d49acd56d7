"""The affected-patient set of a breach, computed from evidence (ADR 1402):
every patient whose record a compromised account, OAuth client or session
successfully touched inside the window (the audit trail's events and their
per-patient index, ADR 0208), and every patient an exported file whose
SHA-256 matches names (the export manifests). Never typed in.

The audit trail is read through audit's selector `patients_touched`
(index paths in bench/breach_scope.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from safeward.assets.manifests import manifests_for_hash
from safeward.audit.selectors import patients_touched


@dataclass(frozen=True)
class ScopeInput:
    window_start: dt.datetime
    window_end: dt.datetime
    actor_ids: tuple[int, ...] = ()
    client_ids: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()
    file_hashes: tuple[str, ...] = ()


def scope_patient_ids(scope: ScopeInput) -> list[str]:
    """The sorted, distinct patient ids of the breach."""
    found = patients_touched(
        start=scope.window_start,
        end=scope.window_end,
        actor_ids=scope.actor_ids,
        client_ids=scope.client_ids,
        session_ids=scope.session_ids,
    )
    for sha256 in scope.file_hashes:
        for patient_ids in manifests_for_hash(sha256=sha256).values_list("patient_ids", flat=True):
            found.update(str(patient_id) for patient_id in patient_ids or [])
    return sorted(found)


def clean_hashes(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(value.strip().lower() for value in values if value.strip())

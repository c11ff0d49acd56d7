"""What the clinical banners on every page need, in one statement: the
person's active break-the-glass grants and the count of their critical
results still to acknowledge (ADR 0307). Their own rows, no PHI, no event."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection

from safeward import clock
from safeward.clinical.gateway._relationships import moment_of, uuid_of
from safeward.clinical.models import BreakGlassGrant, ResultNotification
from safeward.clinical.types import BreakGlassBanner, PageBanners
from safeward.identity.models import User
from safeward.one_door import entry


@functools.cache
def _statement(break_glass: bool, results: bool) -> str:
    """Plain SQL, built once per combination: the ORM compiling the grants'
    query cost more than running both (bench/page_overhead.py). Table
    names from model metadata; every value is a parameter."""
    parts = []
    if break_glass:
        parts.append(
            "SELECT g.id, g.patient_id, g.expires_at, 0"  # noqa: S608
            f" FROM {BreakGlassGrant._meta.db_table} g WHERE g.user_id = %s"
            " AND g.started_at <= %s AND g.expires_at > %s AND g.ended_at IS NULL"
        )
    if results:
        parts.append(
            "SELECT NULL, NULL, NULL, COUNT(*)"  # noqa: S608
            f" FROM {ResultNotification._meta.db_table} n WHERE n.recipient_id = %s"
            " AND n.acknowledged_at IS NULL AND n.critical = %s"
        )
    return " UNION ALL ".join(parts)


@entry
def page_banners(*, actor: User, break_glass: bool, results: bool) -> PageBanners:
    """The actor's active grants (when `break_glass`, soonest to expire
    first) and pending critical results (when `results`). The caller passes
    what the actor's permissions show; with neither, nothing is read."""
    now = clock.now()
    if not (break_glass or results):
        return PageBanners(break_glass=(), critical_results=0, now=now)
    params: list[Any] = []
    if break_glass:
        at = connection.ops.adapt_datetimefield_value(now)
        params += [actor.pk, at, at]
    if results:
        params += [actor.pk, True]
    with connection.cursor() as cursor:
        cursor.execute(_statement(break_glass, results), params)
        rows = cursor.fetchall()
    grants = sorted(
        (
            BreakGlassBanner(
                id=str(uuid_of(grant_id)), patient_id=str(uuid_of(patient_id)), expires_at=moment_of(expires)
            )
            for grant_id, patient_id, expires, _ in rows
            if grant_id is not None
        ),
        key=lambda grant: grant.expires_at,
    )
    critical = next((int(count) for grant_id, _, _, count in rows if grant_id is None), 0)
    return PageBanners(break_glass=tuple(grants), critical_results=critical, now=now)

"""The vendor credential check on the request path (ADR 1200).

Registered into identity from `VendorsConfig.ready()`
(`safeward.identity.selectors.credential_check_register`), so identity never
imports vendors. Identity calls it where a session is validated
(SessionGuardMiddleware), where an account is checked for a bearer request
(`user_account_usable`) and fhir where an OAuth client is checked
(`client_usable`: authorize, token, every bearer request).

Asked only for an account or client the binding flagged
(`credential_checked`, ADR 1210): everyone else pays nothing; a vendor
credential pays one indexed query, and a bearer request's client and its
account are asked together in that one query (ADR 1212). When the agreement's term has passed and no sweep
ran, the lapse is applied now (one transaction, as the sweep would) and the
request refused: the next request after the end is refused, whatever the
sweep does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from safeward import clock
from safeward.vendors.models import Agreement, Credential, Vendor

REVOKED = "vendor_credential_revoked"
SUSPENDED = "vendor_suspended"
ENDED = "vendor_agreement_ended"
EXPIRED = "vendor_credential_expired"


_STATEMENT: list[str] = []


def _statement() -> str:
    """The check's one statement: the bindings of an account, an OAuth
    application or both (a NULL parameter matches nothing), a live one first,
    with their agreement's and vendor's state. Plain SQL, built once: on a
    bearer request the ORM compiling the query cost about as much as running
    it (ADR 1212)."""
    if not _STATEMENT:
        credential = Credential._meta.db_table
        agreement = Agreement._meta.db_table
        vendor = Vendor._meta.db_table
        # Table names from model metadata; every value is a parameter.
        _STATEMENT.append(
            "SELECT c.user_id, c.application_id, c.revoked_at, c.expires_at, c.agreement_id,"  # noqa: S608
            " a.status, a.current_end_at, v.status"
            f" FROM {credential} c JOIN {agreement} a ON a.id = c.agreement_id"
            f" JOIN {vendor} v ON v.id = c.vendor_id"
            " WHERE c.user_id = %s OR c.application_id = %s"
            " ORDER BY CASE WHEN c.revoked_at IS NULL THEN 0 ELSE 1 END, c.id DESC"
        )
    return _STATEMENT[0]


def _moment(value: object) -> dt.datetime | None:
    """A timestamp column as the driver returns it (SQLite: text)."""
    if value is None or isinstance(value, dt.datetime):
        moment = value
    else:
        moment = parse_datetime(str(value))
        if moment is None:
            raise ValueError("unreadable credential time")
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def credential_refusal(*, user_id: int | None = None, application_id: int | None = None) -> str | None:
    """The refusal for an account, an OAuth client, or both at once (a bearer
    request's client and the account its token acts for: one query, ADR
    1212), judged on each one's binding (a live one first)."""
    if user_id is None and application_id is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [user_id, application_id])
        rows = [
            (user, client, _moment(revoked), _moment(expires), agreement, status, _moment(end), vendor)
            for user, client, revoked, expires, agreement, status, end, vendor in cursor.fetchall()
        ]
    for position, value, key in ((0, user_id, "user_id"), (1, application_id, "application_id")):
        if value is None:
            continue
        row = next((row for row in rows if row[position] == value), None)
        if row is not None and (refusal := _judge(row, Q(**{key: value}))) is not None:
            return refusal
    return None


def _judge(row: tuple[Any, ...], key: Q) -> str | None:
    _user, _client, revoked_at, expires_at, agreement_id, agreement_status, current_end_at, vendor_status = (
        row
    )
    if revoked_at is not None:
        return REVOKED
    if vendor_status != Vendor.Status.ACTIVE:
        return SUSPENDED
    if agreement_status != Agreement.Status.ACTIVE:
        return ENDED
    now = clock.now()
    if current_end_at <= now:
        from safeward.vendors import services

        if services.agreement_lapse_if_ended(agreement_id=agreement_id, via="request") is not None:
            return ENDED
        # A tacit renewal moved the end (and the credentials that ran to it).
        expires_at = (
            Credential.objects.filter(key, revoked_at__isnull=True)
            .values_list("expires_at", flat=True)
            .first()
            or now
        )
    if expires_at <= now:
        return EXPIRED
    return None

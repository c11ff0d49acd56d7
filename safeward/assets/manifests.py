"""The export manifest writer (registered with `safeward.audit.manifests`)
and the look-up by a file's hash (`safeward assets whence`, the manifest
page). A manifest names patients by their internal ids only, like the audit
trail; their record numbers come from the gateway, audited."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import secrets

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import QuerySet

from safeward import clock
from safeward.assets.models import AssetClient, ExportManifest
from safeward.audit.manifests import ManifestDraft
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.prepared import prepared_cursor

RESOURCE = "ExportManifest"
HEX = frozenset("0123456789abcdef")


def _canonical(manifest: ExportManifest) -> bytes:
    # The client and the nonce came later (ADR 0811): absent from older manifests' hashes.
    later = {name: getattr(manifest, name) for name in ("client_id", "nonce") if getattr(manifest, name)}
    return json.dumps(
        {
            **later,
            "created_at": manifest.created_at.isoformat(),
            "actor_id": manifest.actor_id,
            "actor_username": manifest.actor_username,
            "kind": manifest.kind,
            "route": manifest.route,
            "purpose": manifest.purpose,
            "destination": manifest.destination_id,
            "patient_ids": manifest.patient_ids,
            "sections": manifest.sections,
            "sha256": manifest.sha256,
            "byte_count": manifest.byte_count,
            "complete": manifest.complete,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def manifest_record(
    *, actor: AbstractBaseUser | None, draft: ManifestDraft, sha256: str, byte_count: int, complete: bool
) -> ExportManifest:
    """Write one manifest and its audit event (carrying the manifest's hash) in
    one transaction: the caller's when there is one (the REST chart's, with
    its READ event, ADR 1631), joined without a savepoint since a manifest
    that fails fails the export with it. A pull by an OAuth client linked to
    an asset has that asset as its destination when the exporting code named
    none."""
    destination_id = draft.destination_asset_id
    if destination_id is None and draft.client_id:
        destination_id = (
            AssetClient.objects.filter(client_id=draft.client_id).values_list("asset_id", flat=True).first()
        )
    with transaction.atomic(savepoint=False):
        manifest = ExportManifest(
            created_at=clock.now(),
            actor_id=actor.pk if actor is not None else None,
            actor_username=actor.get_username() if actor is not None else "",
            kind=draft.kind,
            route=draft.route,
            purpose=draft.purpose,
            destination_id=destination_id,
            client_id=draft.client_id,
            nonce=secrets.token_hex(8),
            patient_ids=sorted(set(draft.patient_ids)),
            patient_count=len(set(draft.patient_ids)),
            sections=sorted(set(draft.sections)),
            sha256=sha256,
            byte_count=byte_count,
            complete=complete,
        )
        manifest.manifest_sha256 = hashlib.sha256(_canonical(manifest)).hexdigest()
        _insert(manifest)
        event = audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=manifest.pk,
            purpose=PurposeOfUse(draft.purpose),
            detail={
                "manifest_sha256": manifest.manifest_sha256,
                "content_sha256": sha256,
                "route": draft.route,
                "patients": manifest.patient_count,
                "complete": complete,
                **({"destination": destination_id} if destination_id is not None else {}),
            },
        )
        _link(manifest, event.pk)
    return manifest


# The manifest's columns as `_insert` writes them (every concrete field but the id).
_FIELDS = [f for f in ExportManifest._meta.concrete_fields if not f.primary_key]


@functools.cache
def _insert_sql() -> str:
    """PostgreSQL's INSERT of a manifest, returning its id (built once)."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(str(f.column)) for f in _FIELDS)
    values = ", ".join(["%s"] * len(_FIELDS))
    table, pk = qn(ExportManifest._meta.db_table), qn(str(ExportManifest._meta.pk.column))
    return f"INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING {pk}"  # noqa: S608 - names from model metadata; values are parameters


@functools.cache
def _link_sql() -> str:
    """PostgreSQL's UPDATE giving a manifest its audit event's id (built once)."""
    qn = connection.ops.quote_name
    table, pk = qn(ExportManifest._meta.db_table), qn(str(ExportManifest._meta.pk.column))
    link = qn(str(ExportManifest._meta.get_field("audit_event_id").column))
    return f"UPDATE {table} SET {link} = %s WHERE {pk} = %s"  # noqa: S608 - names from model metadata; values are parameters


def _insert(manifest: ExportManifest) -> None:
    """Insert the manifest and set its id. PostgreSQL: one statement prepared
    on the server (ADR 0591), the fields prepared as `Model.save` would,
    without its machinery (every chart read writes a manifest, ADR 1655).
    Other databases: `save`."""
    if connection.vendor != "postgresql":
        manifest.save(force_insert=True)
        return
    this = connections[connection.alias]
    values = [f.get_db_prep_save(f.pre_save(manifest, True), this) for f in _FIELDS]
    with prepared_cursor() as cursor:
        cursor.execute(_insert_sql(), values)
        (manifest.pk,) = cursor.fetchone()
    manifest._state.adding, manifest._state.db = False, this.alias


def _link(manifest: ExportManifest, event_id: int | None) -> None:
    """Record the manifest's audit event on it (PostgreSQL: one prepared UPDATE)."""
    manifest.audit_event_id = event_id
    if connection.vendor != "postgresql":
        manifest.save(update_fields=["audit_event_id"])
        return
    with prepared_cursor() as cursor:
        cursor.execute(_link_sql(), [event_id, manifest.pk])
        if cursor.rowcount != 1:  # as `save(update_fields=...)` refuses a row that is not there
            raise DatabaseError("the export manifest to link to its audit event is not there")


def file_sha256(handle: io.BufferedIOBase) -> str:
    return hashlib.file_digest(handle, "sha256").hexdigest()


def manifests_for_hash(*, sha256: str) -> QuerySet[ExportManifest]:
    """The manifests of exports whose bytes hash to `sha256` (lower-case hex)."""
    value = sha256.strip().lower()
    if len(value) != 64 or not set(value) <= HEX:
        return ExportManifest.objects.none()
    return ExportManifest.objects.filter(sha256=value).select_related("destination").order_by("-created_at")


def manifests_since(*, since: dt.datetime) -> QuerySet[ExportManifest]:
    """The manifests written since `since`, oldest first."""
    return ExportManifest.objects.filter(created_at__gte=since).order_by("created_at", "pk")


def manifest_verify(*, manifest: ExportManifest) -> bool:
    """The stored manifest still hashes to the hash its audit event carries."""
    return hashlib.sha256(_canonical(manifest)).hexdigest() == manifest.manifest_sha256

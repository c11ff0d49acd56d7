"""The export manifest writer (registered with `safeward.audit.manifests`)
and the look-up by a file's hash (`safeward assets whence`, the manifest
page). A manifest names patients by their internal ids only, like the audit
trail; their record numbers come from the gateway, audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import secrets
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, connections, transaction
from django.db.models import QuerySet

from safeward import clock
from safeward.assets.models import AssetClient, ExportManifest
from safeward.audit.manifests import ManifestDraft
from safeward.audit.services import RowWithEvent, audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse

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
    """Write one manifest and its audit event (carrying the manifest's hash)
    all or nothing: the caller's transaction when there is one (the REST
    chart's, with its READ event, ADR 1631), joined without a savepoint
    since a manifest that fails fails the export with it. PostgreSQL: one
    statement writes both, each naming the other (ADR 0815). A pull by an
    OAuth client linked to an asset has that asset as its destination when
    the exporting code named none."""
    destination_id = draft.destination_asset_id
    if destination_id is None and draft.client_id:
        destination_id = (
            AssetClient.objects.filter(client_id=draft.client_id).values_list("asset_id", flat=True).first()
        )
    patient_ids = sorted(set(draft.patient_ids))
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
        patient_ids=patient_ids,
        patient_count=len(patient_ids),
        sections=sorted(set(draft.sections)),
        sha256=sha256,
        byte_count=byte_count,
        complete=complete,
    )
    manifest.manifest_sha256 = hashlib.sha256(_canonical(manifest)).hexdigest()
    event: dict[str, Any] = {
        "action": Action.CREATE,
        "actor": actor,
        "resource_type": RESOURCE,
        "purpose": PurposeOfUse(draft.purpose),
        "detail": {
            "manifest_sha256": manifest.manifest_sha256,
            "content_sha256": sha256,
            "route": draft.route,
            "patients": manifest.patient_count,
            "complete": complete,
            **({"destination": destination_id} if destination_id is not None else {}),
        },
    }
    if connection.vendor == "postgresql":
        this = connections[connection.alias]
        row = RowWithEvent(
            table=ExportManifest._meta.db_table,
            columns=_COLUMNS,
            values=[f.get_db_prep_save(f.pre_save(manifest, True), this) for f in _FIELDS],
            event_column=_EVENT_COLUMN,
        )
        written = audit_record(with_row=row, **event)
        manifest.pk, manifest.audit_event_id = int(written.resource_id), written.pk
        manifest._state.adding, manifest._state.db = False, this.alias
        return manifest
    with transaction.atomic(savepoint=False):
        manifest.save(force_insert=True)
        written = audit_record(resource_id=manifest.pk, **event)
        manifest.audit_event_id = written.pk
        manifest.save(update_fields=["audit_event_id"])
    return manifest


# The manifest's columns as PostgreSQL's one statement writes them: every
# concrete field but the id, and the link to its event, which the statement fills.
_EVENT_COLUMN = str(ExportManifest._meta.get_field("audit_event_id").column)
_FIELDS = [
    f for f in ExportManifest._meta.concrete_fields if not f.primary_key and str(f.column) != _EVENT_COLUMN
]
_COLUMNS = [str(f.column) for f in _FIELDS]


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

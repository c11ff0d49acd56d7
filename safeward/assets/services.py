"""Asset register writes: each takes `actor`, runs in one transaction and
records its audit event there. The register holds no patient data, so the
audit rows name the asset and the fields that changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from safeward import clock
from safeward.assets.models import Asset, AssetClient, AssetDependency
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.evaluate import ASSET_LAPSE_CHECK
from safeward.identity.models import User

RESOURCE = "Asset"


class AssetError(Exception):
    """A write refused with a reason the person can act on."""


def _set_dependencies(*, asset: Asset, depends_on_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(depends_on_ids))
    if asset.pk in wanted:
        raise AssetError("An asset cannot depend on itself.")
    found = set(Asset.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise AssetError(f"No asset with id {missing[0]} to depend on.")
    AssetDependency.objects.filter(asset=asset).exclude(depends_on_id__in=wanted).delete()
    have = set(AssetDependency.objects.filter(asset=asset).values_list("depends_on_id", flat=True))
    AssetDependency.objects.bulk_create(
        AssetDependency(asset=asset, depends_on_id=pk) for pk in wanted if pk not in have
    )
    return wanted


def _set_clients(*, asset: Asset, client_ids: Iterable[str]) -> list[str]:
    """Link these OAuth clients (and no others) to the asset; a client is one asset's."""
    wanted = sorted(set(client_ids))
    taken = (
        AssetClient.objects.filter(client_id__in=wanted)
        .exclude(asset=asset)
        .select_related("asset")
        .order_by("client_id")
        .first()
    )
    if taken is not None:
        raise AssetError(f"OAuth client {taken.client_id} is already linked to asset {taken.asset.name}.")
    AssetClient.objects.filter(asset=asset).exclude(client_id__in=wanted).delete()
    have = set(AssetClient.objects.filter(asset=asset).values_list("client_id", flat=True))
    now = clock.now()
    AssetClient.objects.bulk_create(
        AssetClient(asset=asset, client_id=client_id, linked_at=now)
        for client_id in wanted
        if client_id not in have
    )
    return wanted


def asset_create(
    *,
    actor: User | None,
    values: Mapping[str, Any],
    depends_on_ids: Iterable[int] = (),
    source: str = Asset.Source.MANUAL,
    client_ids: Iterable[str] = (),
) -> Asset:
    """`values` are cleaned model fields (AssetForm.cleaned_data)."""
    now = clock.now()
    with transaction.atomic():
        asset = Asset(**values, source=source, created_at=now, updated_at=now)
        asset.save()
        dependencies = _set_dependencies(asset=asset, depends_on_ids=depends_on_ids)
        clients = _set_clients(asset=asset, client_ids=client_ids)
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=asset.pk,
            purpose=PurposeOfUse.OPERATIONS,
            fields=sorted(values),
            detail={
                "kind": asset.kind,
                "source": source,
                "depends_on": dependencies,
                **({"clients": clients} if clients else {}),
            },
        )
    return asset


def asset_update(
    *,
    actor: User | None,
    asset_id: int,
    values: Mapping[str, Any],
    depends_on_ids: Iterable[int] | None = None,
    client_ids: Iterable[str] | None = None,
) -> Asset:
    """`client_ids` (None: unchanged) are the OAuth clients this asset is (ADR 0811)."""
    with transaction.atomic():
        asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None:
            raise AssetError("No such asset.")
        if asset.source == Asset.Source.SAFEWARD and (
            "classification" in values or "phi_categories" in values
        ):
            raise AssetError("SafeWard's own stores are classified from the model metadata, not by hand.")
        changed = sorted(name for name, value in values.items() if getattr(asset, name) != value)
        for name in changed:
            setattr(asset, name, values[name])
        asset.updated_at = clock.now()
        asset.save()
        detail: dict[str, Any] = {}
        if depends_on_ids is not None:
            detail["depends_on"] = _set_dependencies(asset=asset, depends_on_ids=depends_on_ids)
        if client_ids is not None:
            detail["clients"] = _set_clients(asset=asset, client_ids=client_ids)
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=asset.pk,
            purpose=PurposeOfUse.OPERATIONS,
            fields=changed,
            detail=detail,
        )
    return asset


def register_discovered_share(*, actor: User | None, path: str) -> Asset:
    """The file share the PHI scanner found data in, as an asset: the one
    registered at this location, or a new unreviewed one for someone to own."""
    location = path.strip()
    if not location:
        raise AssetError("A discovered share needs its path.")
    if len(location) > Asset._meta.get_field("location").max_length:  # type: ignore[operator]
        raise AssetError("The share's path is too long to register.")
    with transaction.atomic():
        existing = (
            Asset.objects.select_for_update()
            .filter(kind__in=(Asset.Kind.FILE_SHARE, Asset.Kind.OBJECT_STORE), location=location)
            .order_by("pk")
            .first()
        )
        if existing is not None:
            return existing
        name = f"Discovered share {location}"[:180]
        if Asset.objects.filter(name=name).exists():
            name = f"{name} ({Asset.objects.count() + 1})"
        return asset_create(
            actor=actor,
            values={
                "name": name,
                "kind": Asset.Kind.FILE_SHARE,
                "location": location,
                "description": "Found by the PHI discovery scanner; nobody has reviewed it yet.",
                "review_state": Asset.ReviewState.UNREVIEWED,
            },
            source=Asset.Source.DISCOVERED,
        )


def assets_register_self(*, actor: User | None) -> list[Asset]:
    """Register (or bring up to date) SafeWard's own stores, classified from
    the model metadata (safeward.assets.inventory). Idempotent; one audit
    event per asset created or changed."""
    from safeward.assets.inventory import safeward_assets

    described = safeward_assets()
    registered: dict[str, Asset] = {}
    with transaction.atomic():
        for spec in described:
            values = spec.values()
            asset = Asset.objects.select_for_update().filter(system_key=spec.key).first()
            if asset is None:
                now = clock.now()
                asset = Asset.objects.create(
                    **values,
                    system_key=spec.key,
                    source=Asset.Source.SAFEWARD,
                    created_at=now,
                    updated_at=now,
                )
                action = Action.CREATE
                changed = sorted(values)
            else:
                changed = sorted(name for name, value in values.items() if getattr(asset, name) != value)
                if not changed:
                    registered[spec.key] = asset
                    continue
                for name in changed:
                    setattr(asset, name, values[name])
                asset.updated_at = clock.now()
                asset.save()
                action = Action.UPDATE
            audit_record(
                action=action,
                actor=actor,
                resource_type=RESOURCE,
                resource_id=asset.pk,
                purpose=PurposeOfUse.OPERATIONS,
                fields=changed,
                detail={"system_key": spec.key, "classification": spec.classification},
            )
            registered[spec.key] = asset
        for spec in described:
            _set_dependencies(
                asset=registered[spec.key], depends_on_ids=[registered[key].pk for key in spec.depends_on]
            )
    return [registered[spec.key] for spec in described]


def asset_record_review(*, actor: User | None, asset_id: int, kind: str, next_due: dt.date) -> Asset:
    """Record that the asset was reviewed (owner, data, protection) or had its
    risk assessment today, and when the next one is due."""
    if kind not in ("review", "assessment"):
        raise AssetError("Record a review or an assessment.")
    today = clock.now().date()
    if next_due <= today:
        raise AssetError("The next date must be in the future.")
    with transaction.atomic():
        asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None:
            raise AssetError("No such asset.")
        if kind == "review":
            asset.last_reviewed_on, asset.next_review_due = today, next_due
            asset.review_state = Asset.ReviewState.REVIEWED
            fields = ["last_reviewed_on", "next_review_due", "review_state"]
        else:
            asset.last_assessed_on, asset.next_assessment_due = today, next_due
            fields = ["last_assessed_on", "next_assessment_due"]
        asset.updated_at = clock.now()
        asset.save(update_fields=[*fields, "updated_at"])
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=asset.pk,
            purpose=PurposeOfUse.OPERATIONS,
            fields=fields,
            detail={"recorded": kind, "next_due": next_due.isoformat()},
        )
    return asset


def assets_sweep_lapsed(*, today: dt.date | None = None) -> int:
    """Record one event per lapsed asset (the detection rule
    `asset_review_lapsed` turns each into an alert, grouped per asset so the
    daily sweep does not repeat it). Returns how many assets lapsed."""
    from safeward.assets.selectors import assets_lapsed

    lapses = assets_lapsed(today=today)
    with transaction.atomic():
        for lapse in lapses:
            audit_record(
                action=Action.EXECUTE,
                actor=None,
                actor_username="safeward assets sweep",
                resource_type=RESOURCE,
                resource_id=lapse.asset.pk,
                purpose=PurposeOfUse.OPERATIONS,
                detail={"check": ASSET_LAPSE_CHECK, "lapsed": list(lapse.reasons), "kind": lapse.asset.kind},
            )
    return len(lapses)


def asset_dependencies_set(*, actor: User | None, asset_id: int, depends_on_ids: Iterable[int]) -> list[int]:
    with transaction.atomic():
        asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None:
            raise AssetError("No such asset.")
        dependencies = _set_dependencies(asset=asset, depends_on_ids=depends_on_ids)
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=asset.pk,
            purpose=PurposeOfUse.OPERATIONS,
            fields=["depends_on"],
            detail={"depends_on": dependencies},
        )
    return dependencies

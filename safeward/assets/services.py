"""Asset register writes: each takes `actor`, runs in one transaction and
records its audit event there. The register holds no patient data, so the
audit rows name the asset and the fields that changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from safeward import clock
from safeward.assets.models import Asset, AssetDependency
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
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


def asset_create(
    *,
    actor: User | None,
    values: Mapping[str, Any],
    depends_on_ids: Iterable[int] = (),
    source: str = Asset.Source.MANUAL,
) -> Asset:
    """`values` are cleaned model fields (AssetForm.cleaned_data)."""
    now = clock.now()
    with transaction.atomic():
        asset = Asset(**values, source=source, created_at=now, updated_at=now)
        asset.save()
        dependencies = _set_dependencies(asset=asset, depends_on_ids=depends_on_ids)
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=asset.pk,
            purpose=PurposeOfUse.OPERATIONS,
            fields=sorted(values),
            detail={"kind": asset.kind, "source": source, "depends_on": dependencies},
        )
    return asset


def asset_update(
    *,
    actor: User | None,
    asset_id: int,
    values: Mapping[str, Any],
    depends_on_ids: Iterable[int] | None = None,
) -> Asset:
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

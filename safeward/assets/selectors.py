"""Asset register reads (other apps refer to assets by id and read them here)."""

from __future__ import annotations

from django.db.models import QuerySet

from safeward.assets.models import Asset


def assets_list(
    *, kind: str = "", classification: str = "", review_state: str = "", query: str = ""
) -> QuerySet[Asset]:
    assets = Asset.objects.all()
    if kind:
        assets = assets.filter(kind=kind)
    if classification:
        assets = assets.filter(classification=classification)
    if review_state:
        assets = assets.filter(review_state=review_state)
    if query:
        assets = assets.filter(name__icontains=query)
    return assets.order_by("name")


def asset_get(*, asset_id: int) -> Asset | None:
    return Asset.objects.filter(pk=asset_id).first()


def asset_exists(*, asset_id: int) -> bool:
    return Asset.objects.filter(pk=asset_id).exists()

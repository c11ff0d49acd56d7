"""Asset register reads (other apps refer to assets by id and read them here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from safeward import clock
from safeward.assets.models import Asset, AssetClient, AssetDependency
from safeward.fhir.clients import client_names
from safeward.identity.selectors import department_choices
from safeward.workforce.selectors import people_list


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


def assets_with_dependents(*, asset_ids: Iterable[int]) -> dict[int, tuple[Asset, list[Asset]]]:
    """Each asset of `asset_ids` with the assets that depend on it, in two queries
    whatever the number of assets (a list of targets, not one lookup each)."""
    assets: dict[int, tuple[Asset, list[Asset]]] = {
        asset.pk: (asset, []) for asset in Asset.objects.filter(pk__in=set(asset_ids))
    }
    links: dict[int, list[Asset]] = {pk: deps for pk, (_, deps) in assets.items()}
    for link in (
        AssetDependency.objects.filter(depends_on_id__in=assets.keys())
        .select_related("asset")
        .order_by("asset__name")
    ):
        links[link.depends_on_id].append(link.asset)
    return assets


def asset_exists(*, asset_id: int) -> bool:
    return Asset.objects.filter(pk=asset_id).exists()


# Where a third party holds the data: never assessed is lapsed (the HCA e-mail
# formatting store of 2023 was one nobody had assessed).
THIRD_PARTY_KINDS = (Asset.Kind.OBJECT_STORE, Asset.Kind.SAAS)
THIRD_PARTY_HOSTING = (Asset.Hosting.CLOUD, Asset.Hosting.VENDOR)


@dataclass(frozen=True)
class Lapse:
    asset: Asset
    reasons: tuple[str, ...]  # "review", "assessment"


def asset_lapse_reasons(*, asset: Asset, today: dt.date) -> tuple[str, ...]:
    if asset.review_state == Asset.ReviewState.RETIRED:
        return ()
    reasons = []
    if asset.next_review_due is not None and asset.next_review_due < today:
        reasons.append("review")
    third_party = asset.kind in THIRD_PARTY_KINDS or asset.hosting in THIRD_PARTY_HOSTING
    if (asset.next_assessment_due is not None and asset.next_assessment_due < today) or (
        third_party and asset.last_assessed_on is None
    ):
        reasons.append("assessment")
    return tuple(reasons)


def assets_lapsed(*, today: dt.date | None = None) -> list[Lapse]:
    """Assets past their review or assessment date, and third-party storage never assessed."""
    today = today or clock.now().date()
    third_party = Q(kind__in=THIRD_PARTY_KINDS) | Q(hosting__in=THIRD_PARTY_HOSTING)
    candidates = Asset.objects.exclude(review_state=Asset.ReviewState.RETIRED).filter(
        Q(next_review_due__lt=today)
        | Q(next_assessment_due__lt=today)
        | (third_party & Q(last_assessed_on__isnull=True))
    )
    lapses = [
        Lapse(asset, asset_lapse_reasons(asset=asset, today=today)) for asset in candidates.order_by("name")
    ]
    return [lapse for lapse in lapses if lapse.reasons]


def assets_in_service() -> QuerySet[Asset]:
    """Every asset not retired, by name."""
    return Asset.objects.exclude(review_state=Asset.ReviewState.RETIRED).order_by("name")


def assets_unreviewed_count() -> int:
    return Asset.objects.filter(review_state=Asset.ReviewState.UNREVIEWED).count()


def today() -> dt.date:
    return clock.now().date()


@dataclass(frozen=True)
class AssetFacts:
    owner: str
    custodian: str
    departments: list[str]
    dependencies: list[Asset]
    dependents: list[Asset]
    clients: list[tuple[str, str]]  # (client id, its registered name) of the OAuth clients it is


def _person_label(people: dict[int, str], person_id: int | None) -> str:
    if person_id is None:
        return ""
    return people.get(person_id, f"person {person_id} (not found)")


def asset_facts(*, asset: Asset) -> AssetFacts:
    """What the asset page shows beside the asset's own fields: names of its
    owner, custodian and departments, and its direct neighbours."""
    ids = [pk for pk in (asset.owner_person_id, asset.custodian_person_id) if pk is not None]
    people = {
        pk: f"{first} {last}"
        for pk, first, last in people_list().filter(pk__in=ids).values_list("pk", "first_name", "last_name")
    }
    departments = dict(department_choices())
    return AssetFacts(
        owner=_person_label(people, asset.owner_person_id),
        custodian=_person_label(people, asset.custodian_person_id),
        departments=[departments.get(pk, f"department {pk}") for pk in asset.department_ids],
        dependencies=list(Asset.objects.filter(dependent_links__asset=asset).order_by("name")),
        dependents=list(Asset.objects.filter(dependency_links__depends_on=asset).order_by("name")),
        clients=asset_clients(asset_id=asset.pk),
    )


def asset_clients(*, asset_id: int) -> list[tuple[str, str]]:
    """The OAuth clients linked to an asset: (client id, registered name or a
    note that the registration is gone)."""
    names = client_names()
    linked = AssetClient.objects.filter(asset_id=asset_id).values_list("client_id", flat=True)
    return [(client_id, names.get(client_id, "no longer registered")) for client_id in linked]


def asset_client_ids(*, asset_id: int) -> list[str]:
    return list(AssetClient.objects.filter(asset_id=asset_id).values_list("client_id", flat=True))

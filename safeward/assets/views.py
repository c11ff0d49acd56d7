"""The asset register's pages: the list (filters, classification badges,
lapsed reviews) and an asset's page with its dependency graph."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from safeward.assets import selectors
from safeward.assets.models import Asset, Classification
from safeward.identity.decorators import requires
from safeward.identity.permissions import Perm

MAX_QUERY = 80


@require_GET
@requires(Perm.ASSETS_ASSET_READ)
def asset_list(request: HttpRequest) -> HttpResponse:
    filters = {
        "kind": (request.GET.get("kind", ""), Asset.Kind.values),
        "classification": (request.GET.get("classification", ""), Classification.values),
        "review_state": (request.GET.get("review_state", ""), Asset.ReviewState.values),
    }
    query = request.GET.get("q", "").strip()
    context = {
        "kinds": Asset.Kind.choices,
        "classifications": Classification.choices,
        "review_states": Asset.ReviewState.choices,
        "query": query,
        **{name: value for name, (value, _) in filters.items()},
    }
    bad = [name for name, (value, allowed) in filters.items() if value and value not in allowed]
    if bad or len(query) > MAX_QUERY:
        error = "The search is too long." if not bad else f"Unknown {bad[0].replace('_', ' ')}."
        return render(request, "assets/list.html", {**context, "error": error, "assets": []}, status=400)
    assets = selectors.assets_list(query=query, **{name: value for name, (value, _) in filters.items()})
    return render(request, "assets/list.html", {**context, "assets": assets})


@require_GET
@requires(Perm.ASSETS_ASSET_READ)
def asset_detail(request: HttpRequest, asset_id: int) -> HttpResponse:
    asset = selectors.asset_get(asset_id=asset_id)
    if asset is None:
        raise Http404
    return render(request, "assets/detail.html", {"asset": asset})

"""The asset register's pages: the list (filters, classification badges),
an asset's page with its dependency graph and handling rules, registering
and editing assets, recording reviews, and the CSV import."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.assets import importer, manifests, selectors, services
from safeward.assets.forms import AssetForm, ImportForm, ReviewForm
from safeward.assets.graph import NODE_HEIGHT, NODE_WIDTH, dependency_graph
from safeward.assets.handling import HANDLING
from safeward.assets.models import Asset, Classification
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm

MAX_QUERY = 80


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


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
        "handling": HANDLING.values(),
        "can_manage": _actor(request).has_perm(Perm.ASSETS_ASSET_MANAGE),
        **{name: value for name, (value, _) in filters.items()},
    }
    bad = [name for name, (value, allowed) in filters.items() if value and value not in allowed]
    if bad or len(query) > MAX_QUERY:
        error = "The search is too long." if not bad else f"Unknown {bad[0].replace('_', ' ')}."
        return render(request, "assets/list.html", {**context, "error": error, "rows": []}, status=400)
    assets = selectors.assets_list(query=query, **{name: value for name, (value, _) in filters.items()})
    lapsed = {lapse.asset.pk: lapse.reasons for lapse in selectors.assets_lapsed()}
    rows = [(asset, lapsed.get(asset.pk, ())) for asset in assets]
    return render(request, "assets/list.html", {**context, "rows": rows})


def _asset_or_404(asset_id: int) -> Asset:
    asset = selectors.asset_get(asset_id=asset_id)
    if asset is None:
        raise Http404("No such asset.")
    return asset


def _detail(
    request: HttpRequest, asset: Asset, *, review_form: ReviewForm | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "assets/detail.html",
        {
            "asset": asset,
            "facts": selectors.asset_facts(asset=asset),
            "graph": dependency_graph(asset=asset),
            "node_width": NODE_WIDTH,
            "node_height": NODE_HEIGHT,
            "handling": HANDLING.get(asset.classification),
            "lapsed": selectors.asset_lapse_reasons(asset=asset, today=selectors.today()),
            "review_form": review_form or ReviewForm(),
            "can_manage": _actor(request).has_perm(Perm.ASSETS_ASSET_MANAGE),
        },
        status=status,
    )


@require_GET
@requires(Perm.ASSETS_ASSET_READ)
def asset_detail(request: HttpRequest, asset_id: int) -> HttpResponse:
    return _detail(request, _asset_or_404(asset_id))


@require_http_methods(["GET", "POST"])
@requires(Perm.ASSETS_ASSET_MANAGE)
def asset_create(request: HttpRequest) -> HttpResponse:
    form = AssetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            asset = services.asset_create(
                actor=_actor(request),
                values=form.asset_values(),
                depends_on_ids=form.depends_on_ids(),
                client_ids=form.client_ids_value(),
            )
        except (services.AssetError, IntegrityError) as error:
            form.add_error(
                None,
                str(error) if isinstance(error, services.AssetError) else "An asset of that name exists.",
            )
        else:
            messages.success(request, "Asset registered.")
            return redirect("assets:detail", asset_id=asset.pk)
    status = 400 if form.errors else 200
    return render(request, "assets/form.html", {"form": form, "asset": None}, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.ASSETS_ASSET_MANAGE)
def asset_edit(request: HttpRequest, asset_id: int) -> HttpResponse:
    asset = _asset_or_404(asset_id)
    form = AssetForm(request.POST if request.method == "POST" else None, instance=asset)
    if request.method == "POST" and form.is_valid():
        try:
            services.asset_update(
                actor=_actor(request),
                asset_id=asset.pk,
                values=form.asset_values(),
                depends_on_ids=form.depends_on_ids(),
                client_ids=form.client_ids_value(),
            )
        except (services.AssetError, IntegrityError) as error:
            form.add_error(
                None,
                str(error) if isinstance(error, services.AssetError) else "An asset of that name exists.",
            )
        else:
            messages.success(request, "Asset saved.")
            return redirect("assets:detail", asset_id=asset.pk)
    status = 400 if form.errors else 200
    return render(request, "assets/form.html", {"form": form, "asset": asset}, status=status)


@require_POST
@requires(Perm.ASSETS_ASSET_MANAGE)
def asset_review(request: HttpRequest, asset_id: int) -> HttpResponse:
    asset = _asset_or_404(asset_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.asset_record_review(
                actor=_actor(request),
                asset_id=asset.pk,
                kind=form.cleaned_data["kind"],
                next_due=form.cleaned_data["next_due"],
            )
        except services.AssetError as error:
            form.add_error("next_due", str(error))
        else:
            messages.success(request, f"{form.cleaned_data['kind'].capitalize()} recorded.")
            return redirect("assets:detail", asset_id=asset.pk)
    return _detail(request, asset, review_form=form, status=400)


@require_http_methods(["GET", "POST"])
@requires(Perm.ASSETS_ASSET_MANAGE)
def asset_import(request: HttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = ImportForm(request.POST if posted else None, request.FILES if posted else None)
    result = None
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > importer.MAX_BYTES:
            form.add_error("file", "The file is larger than 1 MiB.")
        else:
            try:
                result = importer.csv_import(actor=_actor(request), data=upload.read())
            except IntegrityError:
                form.add_error("file", "The import conflicted with a concurrent edit; nothing was applied.")
            else:
                if result.ok:
                    messages.success(
                        request, f"Imported: {result.created} registered, {result.updated} updated."
                    )
                    return redirect("assets:list")
                status = 400
    if form.errors:
        status = 400
    return render(
        request,
        "assets/import.html",
        {"form": form, "result": result, "columns": importer.COLUMNS},
        status=status,
    )


@require_GET
@requires(Perm.ASSETS_MANIFEST_READ)
def manifest_lookup(request: HttpRequest) -> HttpResponse:
    """Which export a file came from: paste its SHA-256 (`sha256sum FILE`).
    The patients' record numbers come from the gateway, audited."""
    digest = request.GET.get("sha256", "").strip().lower()
    context: dict[str, object] = {"sha256": digest, "results": None}
    if not digest:
        return render(request, "assets/manifests.html", context)
    if len(digest) != 64 or not set(digest) <= manifests.HEX:
        context["error"] = "A SHA-256 is 64 hexadecimal characters."
        return render(request, "assets/manifests.html", context, status=400)
    session = SessionContext.from_request(request)
    results = []
    for manifest in manifests.manifests_for_hash(sha256=digest):
        mrns = gateway.manifest_patient_identifiers(
            actor=_actor(request), session=session, manifest_id=manifest.pk, patient_ids=manifest.patient_ids
        )
        patients = [(patient_id, mrns.get(patient_id, "")) for patient_id in manifest.patient_ids]
        results.append((manifest, patients, manifests.manifest_verify(manifest=manifest)))
    context["results"] = results
    return render(request, "assets/manifests.html", context)

"""The risk register's pages: the register with its 5x5 heat map and
overdue reviews, a risk with its links, recording and editing risks and
their reviews. Reading needs assessment:result:read, writing
assessment:risk:manage."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.assessments import risk_selectors, risk_services
from safeward.assessments.models import Level, Risk
from safeward.assessments.risk_forms import ReviewForm, RiskForm
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm

MAX_QUERY = 80


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def risk_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    level = request.GET.get("level", "")
    overdue = request.GET.get("overdue", "") == "1"
    query = request.GET.get("q", "").strip()
    today = risk_selectors.today()
    every = risk_selectors.risks_list()
    context: dict[str, Any] = {
        "statuses": Risk.Status.choices,
        "levels": Level.choices,
        "status": status,
        "level": level,
        "overdue": overdue,
        "query": query,
        "today": today,
        "heat": risk_selectors.heat_map(risks=every),
        "residual_heat": risk_selectors.heat_map(risks=every, residual=True),
        "level_counts": risk_selectors.level_counts(risks=every),
        "overdue_count": risk_selectors.risks_overdue(today=today).count(),
        "can_manage": _actor(request).has_perm(Perm.ASSESSMENT_RISK_MANAGE),
    }
    if (
        (status and status not in Risk.Status.values)
        or (level and level not in Level.values)
        or len(query) > MAX_QUERY
    ):
        context.update(error="Unknown status or level, or the search is too long.", risks=[])
        return render(request, "assessments/risks/list.html", context, status=400)
    context["risks"] = risk_selectors.risks_list(
        status=status, level=level, overdue_on=today if overdue else None, query=query
    )
    return render(request, "assessments/risks/list.html", context)


def _risk_or_404(risk_id: int) -> Risk:
    risk = risk_selectors.risk_get(risk_id=risk_id)
    if risk is None:
        raise Http404("No such risk.")
    return risk


def _detail(
    request: HttpRequest,
    risk: Risk,
    *,
    review_form: ReviewForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    names = risk_selectors.asset_names(asset_ids=risk.asset_ids)
    return render(
        request,
        "assessments/risks/detail.html",
        {
            "risk": risk,
            "assets": [
                (asset_id, names.get(asset_id, f"asset {asset_id} (not found)"))
                for asset_id in risk.asset_ids
            ],
            "controls": risk_selectors.control_titles(control_ids=risk.control_ids),
            "findings": risk_selectors.risk_findings(risk=risk),
            "review_form": review_form or ReviewForm(),
            "can_manage": _actor(request).has_perm(Perm.ASSESSMENT_RISK_MANAGE),
            "today": risk_selectors.today(),
            "error": error,
        },
        status=status,
    )


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def risk_detail(request: HttpRequest, risk_id: int) -> HttpResponse:
    return _detail(request, _risk_or_404(risk_id))


@require_http_methods(["GET", "POST"])
@requires(Perm.ASSESSMENT_RISK_MANAGE)
def risk_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, object] = {"owner": _actor(request).pk}
    asset = request.GET.get("asset", "")
    if asset.isdigit():
        initial["asset_ids"] = [int(asset)]
    form = RiskForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            risk = risk_services.risk_create(
                actor=_actor(request), values=form.risk_values(), finding_ids=form.linked_finding_ids()
            )
        except risk_services.RiskError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Risk recorded.")
            return redirect("risks:detail", risk_id=risk.pk)
    status = 400 if form.errors else 200
    return render(request, "assessments/risks/form.html", {"form": form, "risk": None}, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.ASSESSMENT_RISK_MANAGE)
def risk_edit(request: HttpRequest, risk_id: int) -> HttpResponse:
    risk = _risk_or_404(risk_id)
    form = RiskForm(request.POST if request.method == "POST" else None, initial=RiskForm.initial_for(risk))
    if request.method == "POST" and form.is_valid():
        try:
            risk_services.risk_update(
                actor=_actor(request),
                risk_id=risk.pk,
                values=form.risk_values(),
                finding_ids=form.linked_finding_ids(),
            )
        except risk_services.RiskError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Risk updated.")
            return redirect("risks:detail", risk_id=risk.pk)
    status = 400 if form.errors else 200
    return render(request, "assessments/risks/form.html", {"form": form, "risk": risk}, status=status)


@require_POST
@requires(Perm.ASSESSMENT_RISK_MANAGE)
def risk_review(request: HttpRequest, risk_id: int) -> HttpResponse:
    risk = _risk_or_404(risk_id)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _detail(request, risk, review_form=form, status=400)
    try:
        risk_services.risk_review(
            actor=_actor(request), risk_id=risk.pk, next_review_due=form.cleaned_data["next_review_due"]
        )
    except risk_services.RiskError as error:
        form.add_error("next_review_due", str(error))
        return _detail(request, risk, review_form=form, status=400)
    messages.success(request, "Review recorded.")
    return redirect("risks:detail", risk_id=risk.pk)

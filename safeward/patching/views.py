"""The patching pages: the dashboard, findings (most urgent first), a
finding and why its date is what it is, triage, exceptions and their
queue, imports of inventories and feeds, the deadline table, VEX exports."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.patching import compensating, selectors, services, vex
from safeward.patching.forms import (
    ExceptionForm,
    FeedImportForm,
    InventoryImportForm,
    PlanForm,
    PlanUpdateForm,
    PolicyCellForm,
    TriageForm,
)
from safeward.patching.models import Finding, PatchPlan, RiskException, Target


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _labels(findings: list[Finding]) -> dict[tuple[str, int], str]:
    facts = services.targets_facts(keys=[(f.target_kind, f.target_id) for f in findings])
    return {
        (kind, pk): found.label if found else f"{kind} {pk} (gone)" for (kind, pk), found in facts.items()
    }


def _rows(findings: list[Finding]) -> list[tuple[Finding, str]]:
    labels = _labels(findings)
    return [(f, labels[(f.target_kind, f.target_id)]) for f in findings]


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def dashboard(request: HttpRequest) -> HttpResponse:
    board = selectors.dashboard()
    urgent = selectors.findings_urgent(limit=10)
    return render(
        request,
        "patching/dashboard.html",
        {
            "board": board,
            "rows": _rows(urgent),
            "mttr_svg": mark_safe(selectors.mttr_svg(board.mttr)),  # noqa: S308 - built from numbers and month keys only
            "now": clock.now(),
            "can_import": _actor(request).has_perm(Perm.PATCHING_INVENTORY_IMPORT),
        },
    )


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def findings(request: HttpRequest) -> HttpResponse:
    state = str(request.GET.get("state", "open"))[:24]
    severity = str(request.GET.get("severity", ""))[:10]
    kev_only = request.GET.get("kev") == "1"
    target = str(request.GET.get("target", ""))[:30]
    found = selectors.findings_list(
        state=state if state != "all" else "",
        severity=severity,
        kev=True if kev_only else None,
        target=target,
    )
    return render(
        request,
        "patching/findings.html",
        {
            "rows": _rows(found[:500]),
            "target": target,
            "state": state,
            "severity": severity,
            "kev": kev_only,
            "now": clock.now(),
            "total": len(found),
        },
    )


def _finding_or_404(finding_id: int) -> Finding:
    finding = selectors.finding_get(finding_id=finding_id)
    if finding is None:
        raise Http404("No such finding.")
    return finding


def _finding_page(
    request: HttpRequest,
    finding: Finding,
    *,
    triage: TriageForm | None = None,
    exception: ExceptionForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _actor(request)
    facts = services.target_facts(kind=finding.target_kind, target_id=finding.target_id)
    controls = selectors.controls_available()
    exceptions = list(selectors.finding_exceptions(finding=finding))
    # The service files no second exception while one is in force or waiting: show that
    # one where the form would be, not a form that can only be refused.
    standing = next((e for e in exceptions if e.status in RiskException.OPEN_STATUSES), None)
    return render(
        request,
        "patching/finding.html",
        {
            "finding": finding,
            "target": facts,
            "kev": selectors.kev_entry(cve_ids=finding.cve_ids or finding.advisory.cve_ids),
            "exceptions": exceptions,
            "standing_exception": standing,
            "plans": selectors.finding_plans(finding=finding),
            "can_triage": user.has_perm(Perm.PATCHING_FINDING_TRIAGE),
            "can_approve": user.has_perm(Perm.PATCHING_EXCEPTION_APPROVE),
            "triage_form": triage
            or TriageForm(
                initial={
                    "state": finding.state,
                    "justification": finding.justification,
                    "response": finding.response,
                    "detail": finding.detail,
                }
            ),
            "exception_form": exception or ExceptionForm(controls=controls, prefix="exception"),
            "errors": errors or [],
            "now": clock.now(),
        },
        status=status,
    )


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def finding_detail(request: HttpRequest, finding_id: int) -> HttpResponse:
    return _finding_page(request, _finding_or_404(finding_id))


@require_POST
@requires(Perm.PATCHING_FINDING_TRIAGE)
def finding_triage(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = _finding_or_404(finding_id)
    form = TriageForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, triage=form, status=400)
    data = form.cleaned_data
    try:
        services.finding_triage(
            actor=_actor(request),
            finding_id=finding.pk,
            state=data["state"],
            justification=data["justification"],
            response=data["response"],
            detail=data["detail"],
        )
    except services.PatchingError as error:
        return _finding_page(request, finding, triage=form, errors=error.errors, status=400)
    messages.success(request, "Analysis saved.")
    return redirect("patching:finding", finding_id=finding.pk)


@require_POST
@requires(Perm.PATCHING_FINDING_TRIAGE)
def exception_new(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = _finding_or_404(finding_id)
    form = ExceptionForm(request.POST, controls=selectors.controls_available(), prefix="exception")
    if not form.is_valid():
        return _finding_page(request, finding, exception=form, status=400)
    data = form.cleaned_data
    try:
        services.exception_request(
            actor=_actor(request),
            finding_id=finding.pk,
            decision=data["decision"],
            justification=data["justification"],
            controls=[(data["control"], data["resource"])],
            expires_on=data["expires_on"],
        )
    except services.PatchingError as error:
        return _finding_page(request, finding, exception=form, errors=error.errors, status=400)
    messages.success(request, "Exception filed; a second person approves it.")
    return redirect("patching:finding", finding_id=finding.pk)


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def exceptions(request: HttpRequest) -> HttpResponse:
    status = str(request.GET.get("status", ""))[:10]
    return render(
        request,
        "patching/exceptions.html",
        {
            "exceptions": selectors.exceptions_list(status=status)[:500],
            "status": status,
            "can_approve": _actor(request).has_perm(Perm.PATCHING_EXCEPTION_APPROVE),
            "today": clock.now().date(),
        },
    )


def _decide(request: HttpRequest, exception_id: int, *, approve: bool) -> HttpResponse:
    if selectors.exception_get(exception_id=exception_id) is None:
        raise Http404("No such exception.")
    try:
        services.exception_decide(actor=_actor(request), exception_id=exception_id, approve=approve)
    except services.PatchingError as error:
        messages.error(request, str(error))
        return render(
            request,
            "patching/exceptions.html",
            {
                "exceptions": selectors.exceptions_list()[:500],
                "status": "",
                "can_approve": True,
                "error": str(error),
                "today": clock.now().date(),
            },
            status=409,
        )
    messages.success(request, "Exception approved." if approve else "Exception rejected.")
    return redirect("patching:exceptions")


@require_POST
@requires(Perm.PATCHING_EXCEPTION_APPROVE)
def exception_approve(request: HttpRequest, exception_id: int) -> HttpResponse:
    return _decide(request, exception_id, approve=True)


@require_POST
@requires(Perm.PATCHING_EXCEPTION_APPROVE)
def exception_reject(request: HttpRequest, exception_id: int) -> HttpResponse:
    return _decide(request, exception_id, approve=False)


def _assets() -> list[tuple[int, str]]:
    from safeward.assets.selectors import assets_list

    return list(assets_list().values_list("pk", "name")[:2000])


@require_http_methods(["GET", "POST"])
@requires(Perm.PATCHING_INVENTORY_IMPORT)
def inventory_import(request: HttpRequest) -> HttpResponse:
    form = InventoryImportForm(request.POST or None, request.FILES or None, assets=_assets())
    errors: list[str] = []
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            kind, target = ("asset", data["asset"]) if data["asset"] else ("device", data["device_id"])
            try:
                inventory, stats = services.inventory_import(
                    actor=_actor(request),
                    target_kind=kind,
                    target_id=target,
                    raw=data["file"].read(),
                    fmt=data["format"],
                )
            except services.PatchingError as error:
                errors = error.errors
            else:
                messages.success(
                    request,
                    f"{_counted(inventory.component_count, 'component')} imported:"
                    f" {_counted(stats.created, 'new finding')}, {stats.reopened} reopened,"
                    f" {stats.resolved} resolved.",
                )
                return redirect(f"/vulns/findings/?target={kind}:{target}")
        return render(request, "patching/import.html", {"form": form, "errors": errors}, status=400)
    return render(request, "patching/import.html", {"form": form, "errors": errors})


@require_http_methods(["GET", "POST"])
@requires(Perm.PATCHING_INVENTORY_IMPORT)
def feed_import(request: HttpRequest) -> HttpResponse:
    form = FeedImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            raw = upload.read()
            actor = _actor(request)
            try:
                feed = form.cleaned_data["feed"]
                if feed == "osv":
                    stats = services.osv_import(actor=actor, raw=raw, filename=upload.name or "")
                    summary = (
                        f"{stats.read} OSV records: {stats.created} new, {stats.updated} updated,"
                        f" {stats.unchanged} unchanged; {stats.match.created} new findings."
                    )
                elif feed == "kev":
                    count, moved = services.kev_import(actor=actor, raw=raw)
                    summary = f"{count} KEV entries; {moved} due dates moved."
                elif feed == "epss":
                    count, moved = services.epss_import(actor=actor, raw=raw)
                    summary = f"{count} EPSS scores; {moved} due dates moved."
                else:
                    changed = services.vex_import(actor=actor, raw=raw)
                    summary = f"{changed} findings updated from the VEX document."
            except services.PatchingError as error:
                errors = error.errors
            else:
                messages.success(request, summary)
                return redirect("patching:dashboard")
        return render(request, "patching/feeds.html", {"form": form, "errors": errors}, status=400)
    return render(request, "patching/feeds.html", {"form": form, "errors": errors})


@require_http_methods(["GET", "POST"])
@requires(Perm.PATCHING_FINDING_READ)
def policy(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    can_edit = user.has_perm(Perm.PATCHING_EXCEPTION_APPROVE)
    form = PolicyCellForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_edit:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if form.is_valid():
            moved = services.deadline_policy_set(
                actor=user,
                severity=form.cleaned_data["severity"],
                exposure=form.cleaned_data["exposure"],
                days=form.cleaned_data["days"],
            )
            messages.success(request, f"Table changed; {moved} due dates recomputed.")
            return redirect("patching:policy")
        status = 400
    return render(
        request,
        "patching/policy.html",
        {
            "table": selectors.policy_table(),
            "settings": selectors.deadline_settings(),
            "form": form,
            "can_edit": can_edit,
        },
        status=status,
    )


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def vex_export(request: HttpRequest, kind: str) -> HttpResponse:
    """The findings' analyses as CycloneDX VEX or OpenVEX (no patient data: packages and advisories)."""
    found = selectors.findings_list(state=str(request.GET.get("state", ""))[:24])
    if kind == "cyclonedx":
        document: dict[str, Any] = vex.export_cyclonedx(found)
    elif kind == "openvex":
        document = vex.export_openvex(found, author=_actor(request).username)
    else:
        raise Http404("No such format.")
    response = HttpResponse(json.dumps(document, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="safeward-{kind}-vex.json"'
    return response


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def controls_resources(request: HttpRequest) -> HttpResponse:
    """What a control test judges now, to pick a compensating control's resource."""
    control_id = str(request.GET.get("control", ""))[:64]
    rows = compensating.control_resources(control_id, clock.now()) if control_id else []
    return render(
        request,
        "patching/control_resources.html",
        {"control_id": control_id, "rows": rows, "controls": selectors.controls_available()},
    )


# --- patch plans ---------------------------------------------------------------------------------


def _target_of(request: HttpRequest) -> tuple[str, int] | None:
    kind, _, pk = str(request.GET.get("target", request.POST.get("target", "")))[:30].partition(":")
    if kind in Target.values and pk.isdigit() and 0 < int(pk) <= selectors.MAX_ID:
        return kind, int(pk)
    return None


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def plans(request: HttpRequest) -> HttpResponse:
    status = str(request.GET.get("status", "open"))[:10]
    if status not in {"open", "", *PatchPlan.Status.values}:
        status = "open"
    shown = list(selectors.plans_list(status=status)[:500])
    labels = services.targets_facts(keys=[(p.target_kind, p.target_id) for p in shown])
    return render(
        request,
        "patching/plans.html",
        {
            "rows": [(plan, labels[(plan.target_kind, plan.target_id)]) for plan in shown],
            "status": status,
            "statuses": PatchPlan.Status.choices,
            "can_plan": _actor(request).has_perm(Perm.PATCHING_FINDING_TRIAGE),
            "now": clock.now(),
        },
    )


def _finding_label(finding: Finding) -> str:
    due = f" · due {finding.due_at:%Y-%m-%d}" if finding.due_at else ""
    return (
        f"{finding.advisory.osv_id} · {finding.component_name} {finding.component_version}"
        f" · {finding.get_severity_display()}{due}"
    )


def _plannable_choices(target: tuple[str, int]) -> list[tuple[int, str]]:
    found = selectors.findings_plannable(target_kind=target[0], target_id=target[1])
    return [(finding.pk, _finding_label(finding)) for finding in found]


def _plan_new_page(
    request: HttpRequest, target: tuple[str, int], form: PlanForm | None, errors: list[str], status: int = 200
) -> HttpResponse:
    facts = services.target_facts(kind=target[0], target_id=target[1])
    if facts is None:
        raise Http404("No such asset or device.")
    if form is None:
        choices = _plannable_choices(target)
        preselected = [int(v) for v in request.GET.getlist("finding")[:50] if v.isdigit()]
        form = PlanForm(findings=choices, initial={"findings": preselected})
    return render(
        request,
        "patching/plan_new.html",
        {"form": form, "target": facts, "target_key": f"{target[0]}:{target[1]}", "errors": errors},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.PATCHING_FINDING_TRIAGE)
def plan_new(request: HttpRequest) -> HttpResponse:
    target = _target_of(request)
    if target is None:
        if request.method == "POST":
            return render(request, "patching/plan_targets.html", {"targets": [], "error": True}, status=400)
        rows = selectors.targets_with_open_findings()
        known = services.targets_facts(keys=[(row["target_kind"], row["target_id"]) for row in rows])
        targets = [{**row, "facts": known[(row["target_kind"], row["target_id"])]} for row in rows]
        return render(request, "patching/plan_targets.html", {"targets": targets})
    if request.method == "GET":
        return _plan_new_page(request, target, None, [])
    facts = services.target_facts(kind=target[0], target_id=target[1])
    if facts is None:
        raise Http404("No such asset or device.")
    form = PlanForm(request.POST, findings=_plannable_choices(target))
    if not form.is_valid():
        return _plan_new_page(request, target, form, [], status=400)
    data = form.cleaned_data
    try:
        plan = services.plan_create(
            actor=_actor(request),
            target_kind=target[0],
            target_id=target[1],
            finding_ids=data["findings"],
            title=data["title"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            change_ref=data["change_ref"],
            notes=data["notes"],
        )
    except services.PatchingError as error:
        return _plan_new_page(request, target, form, error.errors, status=400)
    messages.success(request, f"Plan saved: {plan.get_status_display()}.")
    return redirect("patching:plan", plan_id=plan.pk)


def _plan_page(
    request: HttpRequest, plan: PatchPlan, form: PlanUpdateForm | None, errors: list[str], status: int = 200
) -> HttpResponse:
    return render(
        request,
        "patching/plan.html",
        {
            "plan": plan,
            "target": services.target_facts(kind=plan.target_kind, target_id=plan.target_id),
            "findings": selectors.plan_findings(plan=plan),
            "late": set(selectors.plan_late_finding_ids(plan=plan)),
            "can_plan": _actor(request).has_perm(Perm.PATCHING_FINDING_TRIAGE)
            and plan.status in PatchPlan.OPEN_STATUSES,
            "form": form or PlanUpdateForm(initial={"change_ref": plan.change_ref}),
            "errors": errors,
        },
        status=status,
    )


def _plan_or_404(plan_id: int) -> PatchPlan:
    plan = selectors.plan_get(plan_id=plan_id)
    if plan is None:
        raise Http404("No such plan.")
    return plan


@require_GET
@requires(Perm.PATCHING_FINDING_READ)
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    return _plan_page(request, _plan_or_404(plan_id), None, [])


@require_POST
@requires(Perm.PATCHING_FINDING_TRIAGE)
def plan_update(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan_or_404(plan_id)
    form = PlanUpdateForm(request.POST)
    if not form.is_valid():
        return _plan_page(request, plan, form, [], status=400)
    data = form.cleaned_data
    try:
        services.plan_update(
            actor=_actor(request),
            plan_id=plan.pk,
            status=data["status"],
            change_ref=data["change_ref"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            note=data["note"],
        )
    except services.PatchingError as error:
        return _plan_page(request, plan, form, error.errors, status=400)
    messages.success(request, "Plan updated.")
    return redirect("patching:plan", plan_id=plan.pk)

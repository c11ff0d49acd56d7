"""The compliance pages: the dashboard (a score per framework, the last
run, run all), a framework's per-clause table, a clause's entries and the
control tests that decide them, a test's result with its failing resources
and evidence, run history and verification, exceptions, and downloads
(PDF, CSV, OSCAL, the signed snapshot)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.assessments import reports, scoring, selectors, services, snapshot
from safeward.assessments.forms import ExceptionRequestForm, ExceptionRevokeForm
from safeward.assessments.maturity import current_maturity
from safeward.assessments.models import ControlException, ControlResult, ControlRun
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _scorer() -> scoring.Scorer:
    return scoring.Scorer(maturity=current_maturity())


def _table(scorer: scoring.Scorer, key: str) -> scoring.FrameworkTable:
    if key not in scorer.catalog.frameworks:
        raise Http404("No such framework.")
    return scorer.table(key)


def _run_or_404(run_id: int) -> ControlRun:
    run = selectors.run_get(run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    return run


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def dashboard(request: HttpRequest) -> HttpResponse:
    scorer = _scorer()
    tables = [scorer.table(key) for key in scorer.catalog.frameworks]
    latest = selectors.run_latest()
    failing = sorted(
        (
            r
            for r in scorer.results.values()
            if r.outcome in (ControlResult.Outcome.FAIL, ControlResult.Outcome.ERROR)
        ),
        key=lambda r: r.control_id,
    )
    return render(
        request,
        "assessments/dashboard.html",
        {
            "tables": tables,
            "latest": latest,
            "failing": failing,
            "awaiting": selectors.exceptions_awaiting_approval().count(),
            "can_run": _actor(request).has_perm(Perm.ASSESSMENT_CONTROL_RUN),
        },
    )


@require_POST
@requires(Perm.ASSESSMENT_CONTROL_RUN)
def run_all(request: HttpRequest) -> HttpResponse:
    run = services.controls_run(actor=_actor(request), trigger=ControlRun.Trigger.ON_DEMAND)
    messages.success(
        request,
        f"Control run {run.pk}: {run.controls_passed} passed, {run.controls_failed} failed, "
        f"{run.controls_error} in error, {run.controls_not_applicable} not applicable; signed.",
    )
    return redirect("assessments:run", run_id=run.pk)


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def framework(request: HttpRequest, key: str) -> HttpResponse:
    table = _table(_scorer(), key)
    return render(request, "assessments/framework.html", {"table": table, "chart": reports.bar_chart(table)})


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def clause(request: HttpRequest, key: str, clause_id: str) -> HttpResponse:
    scorer = _scorer()
    table = _table(scorer, key)
    row = next((r for r in table.rows if r.id == clause_id), None)
    if row is None:
        raise Http404("No such clause.")
    entries = [
        (entry, [scorer.results[c] for c in entry.controls if c in scorer.results]) for entry in row.entries
    ]
    return render(request, "assessments/clause.html", {"table": table, "row": row, "entries": entries})


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def run_list(request: HttpRequest) -> HttpResponse:
    return render(request, "assessments/runs.html", {"runs": selectors.runs_list()})


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    return render(
        request,
        "assessments/run.html",
        {"run": run, "results": selectors.run_results(run=run), "verification": services.verify_run(run)},
    )


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def run_snapshot(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    response = HttpResponse(
        json.dumps(snapshot.export(run), indent=1, sort_keys=True, ensure_ascii=False),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="control-run-{run.pk}.json"'
    return response


def _exception_form(result: ControlResult, resource: Any) -> ExceptionRequestForm:
    return ExceptionRequestForm(
        initial={
            "control_id": result.control_id,
            "resource_type": resource.resource_type,
            "resource_id": resource.resource_id,
        }
    )


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def result_detail(request: HttpRequest, run_id: int, control_id: str) -> HttpResponse:
    result = selectors.result_get(run_id=run_id, control_id=control_id)
    if result is None:
        raise Http404("No such result.")
    resources = list(selectors.result_resources(result=result))
    return render(
        request,
        "assessments/result.html",
        {
            "result": result,
            "failing": [r for r in resources if not r.passed],
            "passing": [r for r in resources if r.passed],
            "history": selectors.control_history(control_id=control_id, limit=10),
            "can_request": _actor(request).has_perm(Perm.ASSESSMENT_CONTROL_RUN),
        },
    )


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def exception_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    if state and state not in ControlException.State.values:
        return render(
            request,
            "assessments/exceptions.html",
            {"exceptions": [], "states": ControlException.State.choices, "error": "Unknown state."},
            status=400,
        )
    user = _actor(request)
    return render(
        request,
        "assessments/exceptions.html",
        {
            "exceptions": selectors.exceptions_list(state=state),
            "state": state,
            "states": ControlException.State.choices,
            "can_approve": user.has_perm(Perm.ASSESSMENT_EXCEPTION_APPROVE),
            "revoke_form": ExceptionRevokeForm(),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.ASSESSMENT_CONTROL_RUN)
def exception_request(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":  # prefilled from a failing resource's link
        fields = ("control_id", "resource_type", "resource_id")
        form = ExceptionRequestForm(initial={name: request.GET.get(name, "")[:200] for name in fields})
        return render(request, "assessments/exception_form.html", {"form": form})
    form = ExceptionRequestForm(request.POST)
    if form.is_valid():
        try:
            exception = services.exception_request(actor=_actor(request), **form.cleaned_data)
        except services.AssessmentError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Exception {exception.pk} requested; a second person approves it.")
            return redirect("assessments:exceptions")
    status = 400
    return render(request, "assessments/exception_form.html", {"form": form}, status=status)


@require_POST
@requires(Perm.ASSESSMENT_EXCEPTION_APPROVE)
def exception_approve(request: HttpRequest, exception_id: int) -> HttpResponse:
    if selectors.exception_get(exception_id=exception_id) is None:
        raise Http404("No such exception.")
    try:
        services.exception_approve(actor=_actor(request), exception_id=exception_id)
    except services.AssessmentError as error:
        messages.error(request, str(error))
        return _exceptions_again(request, status=400)
    messages.success(request, f"Exception {exception_id} approved.")
    return redirect("assessments:exceptions")


@require_POST
@requires(Perm.ASSESSMENT_EXCEPTION_APPROVE)
def exception_revoke(request: HttpRequest, exception_id: int) -> HttpResponse:
    if selectors.exception_get(exception_id=exception_id) is None:
        raise Http404("No such exception.")
    form = ExceptionRevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the reason for revoking the exception.")
        return _exceptions_again(request, status=400)
    try:
        services.exception_revoke(
            actor=_actor(request), exception_id=exception_id, reason=form.cleaned_data["reason"]
        )
    except services.AssessmentError as error:
        messages.error(request, str(error))
        return _exceptions_again(request, status=400)
    messages.success(request, f"Exception {exception_id} revoked.")
    return redirect("assessments:exceptions")


def _exceptions_again(request: HttpRequest, *, status: int) -> HttpResponse:
    user = _actor(request)
    return render(
        request,
        "assessments/exceptions.html",
        {
            "exceptions": selectors.exceptions_list(),
            "states": ControlException.State.choices,
            "can_approve": user.has_perm(Perm.ASSESSMENT_EXCEPTION_APPROVE),
            "revoke_form": ExceptionRevokeForm(),
        },
        status=status,
    )


def _download(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def report_pdf(request: HttpRequest, key: str) -> HttpResponse:
    _table(_scorer(), key)
    report = reports.framework_report(key, current_maturity())
    return _download(reports.report_pdf(report), "application/pdf", f"safeward-{key}.pdf")


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def report_csv(request: HttpRequest, key: str, kind: str) -> HttpResponse:
    table = _table(_scorer(), key)
    if kind == "clauses":
        return _download(reports.clauses_csv(table), "text/csv; charset=utf-8", f"safeward-{key}-clauses.csv")
    if kind == "entries":
        return _download(reports.entries_csv(table), "text/csv; charset=utf-8", f"safeward-{key}-entries.csv")
    raise Http404("No such export.")


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def report_oscal(request: HttpRequest, key: str) -> HttpResponse:
    _table(_scorer(), key)
    document = reports.oscal_assessment_results(reports.framework_report(key, current_maturity()))
    response = JsonResponse(document, json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="safeward-{key}-oscal-ar.json"'
    return response

"""Assessment campaign pages: the list, a campaign with its questions and
per-clause scores, a question (answer, evidence, findings), the two
signatures, the year-over-year comparison and the findings list. Reading
needs assessment:result:read; answering, evidence and findings
assessment:campaign:manage and being the campaign's assessor; signing off
being its reviewer (the services decide who may, ADR 0940)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.assessments import campaign_selectors, campaign_services
from safeward.assessments.campaign_evidence import MAX_MEGABYTES, MAX_REQUEST_BYTES, SizeLimitHandler
from safeward.assessments.campaign_forms import (
    AnswerForm,
    CampaignForm,
    EvidenceForm,
    FindingForm,
    FindingUpdateForm,
    ReturnForm,
)
from safeward.assessments.models import Campaign, Finding, Maturity, Question
from safeward.compliance import FRAMEWORKS
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = campaign_selectors.campaign_get(campaign_id=campaign_id)
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _question_or_404(question_id: int) -> Question:
    question = campaign_selectors.question_get(question_id=question_id)
    if question is None:
        raise Http404("No such question.")
    return question


def _status_for(error: campaign_services.CampaignError) -> int:
    return 403 if isinstance(error, campaign_services.NotYours) else 400


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def campaign_list(request: HttpRequest) -> HttpResponse:
    framework = request.GET.get("framework", "")
    status = request.GET.get("status", "")
    context: dict[str, Any] = {
        "frameworks": FRAMEWORKS.items(),
        "statuses": Campaign.Status.choices,
        "framework": framework,
        "status": status,
        "can_manage": _actor(request).has_perm(Perm.ASSESSMENT_CAMPAIGN_MANAGE),
        "overdue_findings": campaign_selectors.findings_list(overdue_on=campaign_selectors.today()).count(),
    }
    if (framework and framework not in FRAMEWORKS) or (status and status not in Campaign.Status.values):
        context.update(error="Unknown framework or status.", campaigns=[])
        return render(request, "assessments/campaigns/list.html", context, status=400)
    context["campaigns"] = campaign_selectors.campaigns_list(framework=framework, status=status)
    return render(request, "assessments/campaigns/list.html", context)


@require_http_methods(["GET", "POST"])
@requires(Perm.ASSESSMENT_CAMPAIGN_MANAGE)
def campaign_create(request: HttpRequest) -> HttpResponse:
    initial = {"year": campaign_selectors.today().year, "assessor": _actor(request).pk}
    form = CampaignForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_services.campaign_create(
                actor=_actor(request),
                name=data["name"],
                framework=data["framework"],
                year=data["year"],
                assessor_id=data["assessor"],
                reviewer_id=data["reviewer"],
                entry_refs=data["entry_refs"],
                scope_note=data["scope_note"],
            )
        except campaign_services.CampaignError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Campaign opened with {campaign.questions.count()} questions.")
            return redirect("campaigns:detail", campaign_id=campaign.pk)
    status = 400 if form.errors else 200
    return render(request, "assessments/campaigns/form.html", {"form": form}, status=status)


def _detail(request: HttpRequest, campaign: Campaign, *, error: str = "", status: int = 200) -> HttpResponse:
    actor = _actor(request)
    return render(
        request,
        "assessments/campaigns/detail.html",
        {
            "campaign": campaign,
            "framework_name": FRAMEWORKS.get(campaign.framework, campaign.framework),
            "questions": campaign_selectors.campaign_questions(campaign=campaign),
            "progress": campaign_selectors.campaign_progress(campaign=campaign),
            "clauses": campaign_selectors.clause_scores(campaign=campaign),
            "findings": campaign_selectors.findings_list(campaign_id=campaign.pk),
            "previous": campaign_selectors.previous_campaign(campaign=campaign),
            "is_assessor": actor.pk == campaign.assessor_id
            and actor.has_perm(Perm.ASSESSMENT_CAMPAIGN_MANAGE),
            "is_reviewer": actor.pk == campaign.reviewer_id,
            "return_form": ReturnForm(),
            "today": campaign_selectors.today(),
            "error": error,
        },
        status=status,
    )


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _detail(request, _campaign_or_404(campaign_id))


@require_POST
@requires(Perm.ASSESSMENT_CAMPAIGN_MANAGE)
def campaign_submit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    try:
        campaign_services.campaign_submit(actor=_actor(request), campaign_id=campaign.pk)
    except campaign_services.CampaignError as error:
        return _detail(request, campaign, error=str(error), status=_status_for(error))
    messages.success(request, "Signed as the assessor; the reviewer signs it off next.")
    return redirect("campaigns:detail", campaign_id=campaign.pk)


@require_POST
@requires(Perm.ASSESSMENT_RESULT_READ)
def campaign_sign_off(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    try:
        campaign_services.campaign_sign_off(actor=_actor(request), campaign_id=campaign.pk)
    except campaign_services.CampaignError as error:
        return _detail(request, campaign, error=str(error), status=_status_for(error))
    messages.success(request, "Campaign signed off; it is now read-only.")
    return redirect("campaigns:detail", campaign_id=campaign.pk)


@require_POST
@requires(Perm.ASSESSMENT_RESULT_READ)
def campaign_return(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        return _detail(request, campaign, error="Say why the campaign goes back.", status=400)
    try:
        campaign_services.campaign_return(
            actor=_actor(request), campaign_id=campaign.pk, reason=form.cleaned_data["reason"]
        )
    except campaign_services.CampaignError as error:
        return _detail(request, campaign, error=str(error), status=_status_for(error))
    messages.success(request, "Campaign returned to the assessor.")
    return redirect("campaigns:detail", campaign_id=campaign.pk)


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def campaign_compare(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    return render(
        request,
        "assessments/campaigns/compare.html",
        {
            "yoy": campaign_selectors.year_over_year(campaign=campaign),
            "framework_name": FRAMEWORKS.get(campaign.framework, campaign.framework),
        },
    )


def _question_page(
    request: HttpRequest,
    question: Question,
    *,
    answer_form: AnswerForm | None = None,
    evidence_form: EvidenceForm | None = None,
    finding_form: FindingForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    campaign = question.campaign
    actor = _actor(request)
    is_assessor = actor.pk == campaign.assessor_id and actor.has_perm(Perm.ASSESSMENT_CAMPAIGN_MANAGE)
    questions = list(campaign.questions.order_by("position").values_list("pk", flat=True))
    index = questions.index(question.pk)
    return render(
        request,
        "assessments/campaigns/question.html",
        {
            "campaign": campaign,
            "question": question,
            "evidence": campaign_selectors.question_evidence(question=question),
            "findings": question.findings.select_related("owner").order_by("due_on"),
            "answer_form": answer_form
            or AnswerForm(initial={"maturity": question.maturity, "notes": question.notes}),
            "evidence_form": evidence_form or EvidenceForm(),
            "finding_form": finding_form or FindingForm(),
            "scale": Maturity.choices,
            "can_answer": is_assessor and campaign.status == Campaign.Status.OPEN,
            "can_add_finding": actor.has_perm(Perm.ASSESSMENT_CAMPAIGN_MANAGE) and not campaign.read_only,
            "previous_id": questions[index - 1] if index > 0 else None,
            "next_id": questions[index + 1] if index + 1 < len(questions) else None,
            "today": campaign_selectors.today(),
            "position": index + 1,
            "count": len(questions),
            "error": error,
        },
        status=status,
    )


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def question_detail(request: HttpRequest, question_id: int) -> HttpResponse:
    return _question_page(request, _question_or_404(question_id))


@require_POST
@requires(Perm.ASSESSMENT_CAMPAIGN_MANAGE)
def question_answer(request: HttpRequest, question_id: int) -> HttpResponse:
    question = _question_or_404(question_id)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        return _question_page(request, question, answer_form=form, status=400)
    try:
        campaign_services.question_answer(
            actor=_actor(request),
            question_id=question.pk,
            maturity=form.cleaned_data["maturity"],
            notes=form.cleaned_data["notes"],
        )
    except campaign_services.CampaignError as error:
        return _question_page(
            request, question, answer_form=form, error=str(error), status=_status_for(error)
        )
    messages.success(request, "Answer saved.")
    following = request.POST.get("next") == "1"
    ids = list(
        question.campaign.questions.filter(position__gt=question.position).values_list("pk", flat=True)[:1]
    )
    if following and ids:
        return redirect("campaigns:question", question_id=ids[0])
    return redirect("campaigns:question", question_id=question.pk)


def _too_large(request: HttpRequest, question: Question) -> HttpResponse:
    form = EvidenceForm()
    return _question_page(
        request,
        question,
        evidence_form=form,
        error=f"The file is larger than {MAX_MEGABYTES} MiB; nothing was stored.",
        status=413,
    )


@require_POST
@requires(Perm.ASSESSMENT_CAMPAIGN_MANAGE)
@csrf_exempt  # CSRF is checked by csrf_protect below, once the size cap is in place
def evidence_upload(request: HttpRequest, question_id: int) -> HttpResponse:
    """The size cap must be in place before anything reads the body (the CSRF check reads the form)."""
    question = _question_or_404(question_id)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_REQUEST_BYTES:
        return _too_large(request, question)
    limiter = SizeLimitHandler(request)
    request.upload_handlers.insert(0, limiter)
    return _evidence_upload(request, question, limiter)


@csrf_protect
def _evidence_upload(request: HttpRequest, question: Question, limiter: SizeLimitHandler) -> HttpResponse:
    form = EvidenceForm(request.POST, request.FILES)
    if limiter.exceeded:
        return _too_large(request, question)
    if not form.is_valid():
        return _question_page(request, question, evidence_form=form, status=400)
    upload = form.cleaned_data["file"]
    upload.seek(0)
    try:
        evidence = campaign_services.evidence_add(
            actor=_actor(request), question_id=question.pk, filename=upload.name or "", data=upload.read()
        )
    except campaign_services.EvidenceRefused as error:
        form.add_error("file", str(error))
        return _question_page(request, question, evidence_form=form, status=400)
    except campaign_services.CampaignError as error:
        return _question_page(
            request, question, evidence_form=form, error=str(error), status=_status_for(error)
        )
    messages.success(request, f"Evidence stored (encrypted), SHA-256 {evidence.sha256[:16]}…")
    return redirect("campaigns:question", question_id=question.pk)


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def evidence_download(request: HttpRequest, evidence_id: uuid.UUID) -> HttpResponse:
    try:
        evidence, data = campaign_services.evidence_open(actor=_actor(request), evidence_id=str(evidence_id))
    except campaign_services.EvidenceTampered as error:
        return render(request, "assessments/campaigns/tampered.html", {"error": str(error)}, status=409)
    except campaign_services.CampaignError:
        raise Http404("No such evidence file.") from None
    response = HttpResponse(data, content_type=evidence.content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=evidence.filename
    )
    response["X-Content-SHA256"] = evidence.sha256
    return response


@require_POST
@requires(Perm.ASSESSMENT_CAMPAIGN_MANAGE)
def finding_create(request: HttpRequest, question_id: int) -> HttpResponse:
    question = _question_or_404(question_id)
    form = FindingForm(request.POST)
    if not form.is_valid():
        return _question_page(request, question, finding_form=form, status=400)
    data = form.cleaned_data
    try:
        campaign_services.finding_create(
            actor=_actor(request),
            question_id=question.pk,
            title=data["title"],
            description=data["description"],
            severity=data["severity"],
            owner_id=data["owner"],
            due_on=data["due_on"],
        )
    except campaign_services.CampaignError as error:
        return _question_page(
            request, question, finding_form=form, error=str(error), status=_status_for(error)
        )
    messages.success(request, "Finding recorded.")
    return redirect("campaigns:question", question_id=question.pk)


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def finding_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    overdue = request.GET.get("overdue", "") == "1"
    today = campaign_selectors.today()
    context: dict[str, Any] = {
        "statuses": Finding.Status.choices,
        "status": status,
        "overdue": overdue,
        "today": today,
    }
    if status and status not in Finding.Status.values:
        return render(
            request,
            "assessments/campaigns/findings.html",
            {**context, "findings": [], "error": "Unknown status."},
            status=400,
        )
    findings = campaign_selectors.findings_list(status=status, overdue_on=today if overdue else None)
    return render(request, "assessments/campaigns/findings.html", {**context, "findings": findings})


def _finding_page(
    request: HttpRequest,
    finding: Finding,
    form: FindingUpdateForm | None = None,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    return render(
        request,
        "assessments/campaigns/finding.html",
        {
            "finding": finding,
            "form": form
            or FindingUpdateForm(
                initial={
                    "status": finding.status,
                    "owner": finding.owner_id,
                    "due_on": finding.due_on,
                    "resolution": finding.resolution,
                }
            ),
            "can_manage": _actor(request).has_perm(Perm.ASSESSMENT_CAMPAIGN_MANAGE),
            "risks": finding.risks.order_by("title"),
            "today": campaign_selectors.today(),
            "error": error,
        },
        status=status,
    )


def _finding_or_404(finding_id: int) -> Finding:
    finding = campaign_selectors.finding_get(finding_id=finding_id)
    if finding is None:
        raise Http404("No such finding.")
    return finding


@require_GET
@requires(Perm.ASSESSMENT_RESULT_READ)
def finding_detail(request: HttpRequest, finding_id: int) -> HttpResponse:
    return _finding_page(request, _finding_or_404(finding_id))


@require_POST
@requires(Perm.ASSESSMENT_CAMPAIGN_MANAGE)
def finding_update(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = _finding_or_404(finding_id)
    form = FindingUpdateForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, form, status=400)
    data = form.cleaned_data
    try:
        campaign_services.finding_update(
            actor=_actor(request),
            finding_id=finding.pk,
            status=data["status"],
            owner_id=data["owner"],
            due_on=data["due_on"],
            resolution=data["resolution"],
        )
    except campaign_services.CampaignError as error:
        return _finding_page(request, finding, form, status=_status_for(error), error=str(error))
    messages.success(request, "Finding updated.")
    return redirect("campaigns:finding", finding_id=finding.pk)

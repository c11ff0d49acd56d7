"""The questionnaire pages (ADR 1213): for staff, the list, "Send a
questionnaire", a questionnaire's answers with the review sign-off and its
evidence files; for the vendor's contact, the answer page its single-use link
opens, with no account (the one route of the app open to anonymous visitors,
allow-listed in tests/security/test_url_permissions.py), rate-limited (ADR
1215) and behind a code e-mailed to the contact (ADR 1214)."""

from __future__ import annotations

from typing import IO, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.identity.adapters import client_address
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.vendors import link_code, link_throttle, questionnaires, questions, selectors
from safeward.vendors.forms import QuestionnaireSendForm, SignOffForm, apply_errors
from safeward.vendors.models import Questionnaire


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _questionnaire_or_404(questionnaire_id: int) -> Questionnaire:
    questionnaire = selectors.questionnaire_get(questionnaire_id=questionnaire_id)
    if questionnaire is None:
        raise Http404("No such questionnaire.")
    return questionnaire


@require_GET
@requires(Perm.VENDOR_VENDOR_READ)
def questionnaire_list(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.questionnaires_list())
    now = clock.now()
    return render(
        request,
        "vendors/questionnaires.html",
        {"rows": [(q, questionnaires.link_state(q, now)) for q in rows]},
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.VENDOR_VENDOR_MANAGE)
def questionnaire_send(request: HttpRequest, vendor_id: int) -> HttpResponse:
    vendor = selectors.vendor_get(vendor_id=vendor_id)
    if vendor is None:
        raise Http404("No such vendor.")
    form = QuestionnaireSendForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = questionnaires.questionnaire_send(
                actor=_actor(request),
                vendor=vendor,
                link_for=lambda token: request.build_absolute_uri(
                    reverse("vendors:questionnaire_answer", args=[token])
                ),
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            # The link is shown once, here; only its hash is stored.
            return render(request, "vendors/questionnaire_sent.html", {"sent": sent, "vendor": vendor})
    return render(
        request,
        "vendors/form.html",
        {"form": form, "title": f"Send the security questionnaire to {vendor.name}", "vendor": vendor},
        status=400 if form.errors else 200,
    )


def _detail(
    request: HttpRequest, questionnaire_id: int, *, form: SignOffForm | None = None, status: int = 200
) -> HttpResponse:
    questionnaire = _questionnaire_or_404(questionnaire_id)
    evidence = {e.question: e for e in questionnaire.evidence.all()}
    rows = [
        (question, questionnaire.answers.get(question.code), evidence.get(question.code))
        for question in questions.QUESTIONS
    ]
    actor = _actor(request)
    return render(
        request,
        "vendors/questionnaire.html",
        {
            "q": questionnaire,
            "rows": rows,
            "scale": dict(questions.SCALE),
            "state": questionnaires.link_state(questionnaire),
            "can_sign_off": actor.has_perm(Perm.VENDOR_ASSESSMENT_REVIEW)
            and questionnaire.sent_by_id != actor.pk,
            "form": form or SignOffForm(),
        },
        status=status,
    )


@require_GET
@requires(Perm.VENDOR_VENDOR_READ)
def questionnaire_detail(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    return _detail(request, questionnaire_id)


@require_POST
@requires(Perm.VENDOR_ASSESSMENT_REVIEW)
def questionnaire_sign_off(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    _questionnaire_or_404(questionnaire_id)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        return _detail(request, questionnaire_id, form=form, status=400)
    try:
        questionnaires.questionnaire_sign_off(
            actor=_actor(request), questionnaire_id=questionnaire_id, note=form.cleaned_data["note"]
        )
    except ValidationError as error:
        apply_errors(form, error)
        return _detail(request, questionnaire_id, form=form, status=409)
    messages.success(request, "Review signed off.")
    return redirect("vendors:questionnaire", questionnaire_id=questionnaire_id)


@require_GET
@requires(Perm.VENDOR_VENDOR_READ)
def evidence_download(request: HttpRequest, evidence_id: int) -> HttpResponse:
    try:
        evidence, content = questionnaires.evidence_open(actor=_actor(request), evidence_id=evidence_id)
    except ValidationError as error:
        if "No such file." in error.messages:
            raise Http404 from None
        return HttpResponse(" ".join(error.messages), status=409, content_type="text/plain")
    response = HttpResponse(content, content_type=evidence.content_type)
    response["Content-Disposition"] = f'attachment; filename="{evidence.filename}"'
    response["X-Content-SHA256"] = evidence.sha256
    return response


# --- the vendor's page: no account ---------------------------------------------------------------


def _refused(request: HttpRequest, refused: questionnaires.LinkRefused) -> HttpResponse:
    return render(
        request, "vendors/questionnaire_refused.html", {"message": refused.message}, status=refused.status
    )


# The passes the right codes gave this browser, by questionnaire id (ADR 1214).
PASSES_KEY = "vendor_questionnaire_passes"


def _masked(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def _code_step(
    request: HttpRequest, questionnaire: Questionnaire, *, error: str = "", status: int = 200
) -> HttpResponse:
    """The second factor: e-mail a code (on opening the link, or when asked
    for a new one) and check the one entered."""
    step = request.POST.get("step") if request.method == "POST" else None
    retry_after = 0
    try:
        if step == "code":
            pass_token = link_code.code_verify(questionnaire=questionnaire, code=request.POST.get("code", ""))
            request.session[PASSES_KEY] = {
                **request.session.get(PASSES_KEY, {}),
                str(questionnaire.pk): pass_token,
            }
            return redirect(request.path)
        state = link_code.code_state(questionnaire)
        # Opening the link mails a code when none is usable, unless one was
        # just sent; after 5 wrong attempts only the explicit request does.
        if step == "resend" or (
            request.method == "GET"
            and state.state in ("none", "unsent", "expired", "used")
            and not state.resend_in
        ):
            questionnaire = link_code.code_send(questionnaire=questionnaire)
    except link_code.CodeRefused as refused:
        error, status, retry_after = refused.message, refused.status, refused.retry_after
        questionnaire.refresh_from_db()
    response = render(
        request,
        "vendors/questionnaire_code.html",
        {
            "q": questionnaire,
            "title": questions.TITLE,
            "to": _masked(questionnaire.contact_email),
            "state": link_code.code_state(questionnaire),
            "minutes": link_code.VALID_MINUTES,
            "error": error,
        },
        status=status,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@never_cache
@login_not_required
@require_http_methods(["GET", "POST"])
def questionnaire_answer(request: HttpRequest, token: str) -> HttpResponse:
    limited = link_throttle.hit(token=token, address=client_address(request))
    if limited is not None:
        minutes = -(-limited.retry_after // 60)
        response = render(
            request,
            "vendors/questionnaire_refused.html",
            {"message": f"Too many requests for this link. Try again in {minutes} minutes."},
            status=429,
        )
        response["Retry-After"] = str(limited.retry_after)
        return response
    try:
        questionnaire = questionnaires.questionnaire_by_token(token=token)
    except questionnaires.LinkRefused as refused:
        return _refused(request, refused)
    pass_token = request.session.get(PASSES_KEY, {}).get(str(questionnaire.pk))
    if request.POST.get("step") in ("code", "resend") or (
        request.method == "GET" and not link_code.pass_valid(questionnaire, pass_token)
    ):
        return _code_step(request, questionnaire)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        uploads = []
        for name in request.FILES:
            upload = request.FILES.getlist(name)[-1]  # one file per field: the last if a client sent several
            uploads.append(
                questionnaires.Upload(
                    question=name.removeprefix("evidence_"),
                    filename=upload.name or "",
                    content_type=upload.content_type or "",
                    source=cast("IO[bytes]", upload),  # an uploaded file reads as a binary file
                )
            )
        try:
            questionnaires.questionnaire_answer(
                token=token, pass_token=pass_token, data=request.POST, uploads=uploads
            )
        except questionnaires.LinkRefused as refused:
            if refused.reason == "not_verified":
                return _code_step(request, questionnaire, error=refused.message, status=refused.status)
            return _refused(request, refused)
        except ValidationError as error:
            errors = error.message_dict
        else:
            request.session.pop(PASSES_KEY, None)
            return render(request, "vendors/questionnaire_thanks.html", {"vendor": questionnaire.vendor})
    return render(
        request,
        "vendors/questionnaire_answer.html",
        {
            "q": questionnaire,
            "title": questions.TITLE,
            "questions": questions.QUESTIONS,
            "scale": questions.SCALE,
            "posted": request.POST,
            "errors": errors,
        },
        status=400 if errors else 200,
    )

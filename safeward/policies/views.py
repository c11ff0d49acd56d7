"""The policy library's pages: the library (every signed-in person reads the
published documents), a document with its revisions and the diff between
two, the lifecycle actions for the people who keep the library (draft, edit,
submit, approve or send back, publish, review, retire), acknowledgement
campaigns with their progress, and for everyone the acknowledgement page, the
interstitial and "my acknowledgements"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.identity.decorators import authenticated, requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.policies import gate, selectors, services, text
from safeward.policies.forms import CampaignForm, DocumentForm, ReasonForm, ReviewForm, RevisionForm
from safeward.policies.middleware import DEFERRED
from safeward.policies.models import PolicyDocument, PolicyRevision

PDF_TYPE = "application/pdf"


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _keeper(request: HttpRequest) -> bool:
    """Who sees drafts and revisions in review: the library's keepers and approvers."""
    user = _actor(request)
    return user.has_perm(Perm.POLICY_DOCUMENT_MANAGE) or user.has_perm(Perm.POLICY_DOCUMENT_APPROVE)


def _document_or_404(request: HttpRequest, document_id: int) -> PolicyDocument:
    document = selectors.document_get(document_id=document_id, include_unpublished=_keeper(request))
    if document is None:
        raise Http404("No such document.")
    return document


def _revision_or_404(
    request: HttpRequest, revision_id: int, *, unpublished: bool | None = None
) -> PolicyRevision:
    revision = selectors.revision_get(
        revision_id=revision_id, include_unpublished=_keeper(request) if unpublished is None else unpublished
    )
    if revision is None:
        raise Http404("No such revision.")
    return revision


def _back_to_revision(request: HttpRequest, revision_id: int, error: services.PolicyError) -> HttpResponse:
    """A refused lifecycle step: the revision page again, with the reason, as a 409."""
    revision = _revision_or_404(request, revision_id)
    return _revision_page(request, revision, error=str(error), status=409)


# --- the library ---------------------------------------------------------------------------------


@require_GET
@authenticated
def library(request: HttpRequest) -> HttpResponse:
    keeper = _keeper(request)
    documents = list(selectors.documents_list(include_unpublished=keeper))
    overdue = {document.pk for document in selectors.documents_review_overdue()}
    return render(
        request,
        "policies/library.html",
        {
            "rows": [(document, document.pk in overdue) for document in documents],
            "can_manage": _actor(request).has_perm(Perm.POLICY_DOCUMENT_MANAGE),
            "keeper": keeper,
        },
    )


@require_GET
@authenticated
def document_detail(request: HttpRequest, document_id: int) -> HttpResponse:
    return _document_page(request, _document_or_404(request, document_id))


def _document_page(
    request: HttpRequest,
    document: PolicyDocument,
    *,
    review_form: ReviewForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    keeper = _keeper(request)
    roles, positions = selectors.document_requirements(document=document)
    current = document.current_revision
    overdue = document.pk in {d.pk for d in selectors.documents_review_overdue()}
    return render(
        request,
        "policies/document.html",
        {
            "document": document,
            "current": current,
            "body": text.render(current.body) if current else "",
            "revisions": list(selectors.document_revisions(document=document, include_unpublished=keeper)),
            "counts": selectors.acknowledgement_counts(),
            "roles": roles,
            "positions": positions,
            "overdue": overdue,
            "acknowledged": current is not None
            and selectors.has_acknowledged(user=_actor(request), revision_id=current.pk),
            "can_manage": _actor(request).has_perm(Perm.POLICY_DOCUMENT_MANAGE),
            "review_form": review_form or ReviewForm(),
            "error": error,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def document_create(request: HttpRequest) -> HttpResponse:
    form = DocumentForm(
        request.POST if request.method == "POST" else None, initial={"owner": _actor(request).pk}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            document = services.document_create(
                actor=_actor(request),
                code=data["code"],
                title=data["title"],
                kind=data["kind"],
                owner=form.owner_user(),
                review_period_days=data["review_period_days"],
                roles=data["roles"],
                positions=data["positions"],
            )
        except services.PolicyError as error:
            form.add_error("code", str(error))
        else:
            messages.success(request, "Document created. Write its first revision.")
            return redirect("policies:revision_new", document_id=document.pk)
    status = 400 if form.errors else 200
    return render(request, "policies/document_form.html", {"form": form, "document": None}, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def document_edit(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_or_404(request, document_id)
    roles, positions = selectors.document_requirements(document=document)
    initial = {
        "title": document.title,
        "kind": document.kind,
        "owner": document.owner_id,
        "review_period_days": document.review_period_days,
        "roles": roles,
        "positions": positions,
    }
    form = DocumentForm(request.POST if request.method == "POST" else None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.document_update(
                actor=_actor(request),
                document_id=document.pk,
                title=data["title"],
                kind=data["kind"],
                owner=form.owner_user(),
                review_period_days=data["review_period_days"],
                roles=data["roles"],
                positions=data["positions"],
            )
        except services.PolicyError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Document saved.")
            return redirect("policies:document", document_id=document.pk)
    status = 400 if form.errors else 200
    return render(request, "policies/document_form.html", {"form": form, "document": document}, status=status)


@require_POST
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def document_review(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_or_404(request, document_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.document_review_record(
                actor=_actor(request), document_id=document.pk, note=form.cleaned_data["note"]
            )
        except services.PolicyError as error:
            return _document_page(request, document, review_form=form, error=str(error), status=409)
        messages.success(request, "Review recorded; the next one is due in a review period.")
        return redirect("policies:document", document_id=document.pk)
    return _document_page(request, document, review_form=form, status=400)


@require_POST
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def document_retire(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_or_404(request, document_id)
    try:
        services.document_retire(actor=_actor(request), document_id=document.pk)
    except services.PolicyError as error:
        return _document_page(request, document, error=str(error), status=409)
    messages.success(request, "Document retired; nobody has to acknowledge it any more.")
    return redirect("policies:document", document_id=document.pk)


# --- revisions -----------------------------------------------------------------------------------


def _revision_page(
    request: HttpRequest,
    revision: PolicyRevision,
    *,
    form: RevisionForm | None = None,
    reject_form: ReasonForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    keeper = _keeper(request)
    others = [
        other
        for other in selectors.document_revisions(document=revision.document, include_unpublished=keeper)
        if other.pk != revision.pk
    ]
    against = None
    raw = request.GET.get("against", "")
    if raw:
        against = next((other for other in others if str(other.pk) == raw), None)
        if against is None:
            error = error or "There is no such revision of this document to compare with."
            status = 400 if status == 200 else status
    elif others:
        earlier = [other for other in others if other.number < revision.number]
        against = earlier[0] if earlier else None
    user = _actor(request)
    return render(
        request,
        "policies/revision.html",
        {
            "revision": revision,
            "document": revision.document,
            "body": text.render(revision.body),
            "others": others,
            "against": against,
            "diff": text.diff(against.body, revision.body) if against else None,
            "form": form,
            "reject_form": reject_form or ReasonForm(),
            "can_manage": user.has_perm(Perm.POLICY_DOCUMENT_MANAGE),
            "can_approve": user.has_perm(Perm.POLICY_DOCUMENT_APPROVE) and revision.author_id != user.pk,
            "is_author": revision.author_id == user.pk,
            "error": error,
        },
        status=status,
    )


@require_GET
@authenticated
def revision_detail(request: HttpRequest, revision_id: int) -> HttpResponse:
    return _revision_page(request, _revision_or_404(request, revision_id))


@require_http_methods(["GET", "POST"])
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def revision_new(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_or_404(request, document_id)
    current = document.current_revision
    initial = {"body": current.body} if current else {}
    form = RevisionForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            revision = services.revision_draft(
                actor=_actor(request),
                document_id=document.pk,
                body=form.cleaned_data["body"],
                change_summary=form.cleaned_data["change_summary"],
            )
        except services.PolicyError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Draft saved. Submit it for review when it is ready.")
            return redirect("policies:revision", revision_id=revision.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "policies/revision_form.html",
        {"form": form, "document": document, "revision": None},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def revision_edit(request: HttpRequest, revision_id: int) -> HttpResponse:
    revision = _revision_or_404(request, revision_id)
    initial = {"body": revision.body, "change_summary": revision.change_summary}
    form = RevisionForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.revision_edit(
                actor=_actor(request),
                revision_id=revision.pk,
                body=form.cleaned_data["body"],
                change_summary=form.cleaned_data["change_summary"],
            )
        except services.PolicyError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Draft saved.")
            return redirect("policies:revision", revision_id=revision.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "policies/revision_form.html",
        {"form": form, "document": revision.document, "revision": revision},
        status=status,
    )


def _step(request: HttpRequest, revision_id: int, action: Any, done: str, **kwargs: Any) -> HttpResponse:
    revision = _revision_or_404(request, revision_id)
    try:
        action(actor=_actor(request), revision_id=revision.pk, **kwargs)
    except services.PolicyError as error:
        return _back_to_revision(request, revision.pk, error)
    messages.success(request, done)
    return redirect("policies:revision", revision_id=revision.pk)


@require_POST
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def revision_submit(request: HttpRequest, revision_id: int) -> HttpResponse:
    return _step(
        request, revision_id, services.revision_submit, "Submitted: a second person must approve it."
    )


@require_POST
@requires(Perm.POLICY_DOCUMENT_APPROVE)
def revision_approve(request: HttpRequest, revision_id: int) -> HttpResponse:
    return _step(request, revision_id, services.revision_approve, "Approved: it can now be published.")


@require_POST
@requires(Perm.POLICY_DOCUMENT_APPROVE)
def revision_reject(request: HttpRequest, revision_id: int) -> HttpResponse:
    revision = _revision_or_404(request, revision_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _revision_page(request, revision, reject_form=form, error="Say why it goes back.", status=400)
    return _step(
        request,
        revision_id,
        services.revision_reject,
        "Sent back to its author.",
        reason=form.cleaned_data["reason"],
    )


@require_POST
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def revision_publish(request: HttpRequest, revision_id: int) -> HttpResponse:
    revision = _revision_or_404(request, revision_id)
    try:
        services.revision_publish(actor=_actor(request), revision_id=revision.pk)
    except services.PolicyError as error:
        return _back_to_revision(request, revision.pk, error)
    messages.success(request, "Published. Start an acknowledgement campaign for the people it concerns.")
    return redirect("policies:campaign_new", document_id=revision.document_id)


@require_GET
@authenticated
def revision_pdf(request: HttpRequest, revision_id: int) -> HttpResponse:
    revision = _revision_or_404(request, revision_id, unpublished=False)
    snapshot = selectors.revision_snapshot_verify(revision_id=revision.pk)
    if snapshot is None:
        raise Http404("This revision has no snapshot.")
    services.snapshot_download_record(
        actor=_actor(request), revision_id=revision.pk, verified=snapshot.verified
    )
    if not snapshot.verified:
        return render(
            request, "policies/tampered.html", {"revision": revision, "problem": snapshot.problem}, status=409
        )
    response = HttpResponse(snapshot.pdf, content_type=PDF_TYPE)
    filename = f"{revision.document.code}-r{revision.number}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- campaigns -----------------------------------------------------------------------------------


@require_GET
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def campaign_list(request: HttpRequest) -> HttpResponse:
    progress = [selectors.campaign_progress(campaign=c) for c in selectors.campaigns_list()[:100]]
    return render(request, "policies/campaigns.html", {"rows": progress})


@require_http_methods(["GET", "POST"])
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def campaign_new(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_or_404(request, document_id)
    roles, positions = selectors.document_requirements(document=document)
    form = CampaignForm(
        request.POST if request.method == "POST" else None, initial={"roles": roles, "positions": positions}
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(
                actor=_actor(request),
                document_id=document.pk,
                name=form.cleaned_data["name"],
                roles=form.cleaned_data["roles"],
                positions=form.cleaned_data["positions"],
                due_at=form.due_at(),
            )
        except services.PolicyError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Campaign started.")
            return redirect("policies:campaign", campaign_id=campaign.pk)
    status = 400 if form.errors else 200
    return render(request, "policies/campaign_form.html", {"form": form, "document": document}, status=status)


@require_GET
@requires(Perm.POLICY_DOCUMENT_MANAGE)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    if campaign is None:
        raise Http404("No such campaign.")
    return render(request, "policies/campaign.html", {"p": selectors.campaign_progress(campaign=campaign)})


# --- acknowledging -------------------------------------------------------------------------------


def _next(request: HttpRequest) -> str:
    """A local path to go back to after acknowledging, or ""."""
    target = str(request.POST.get("next") or request.GET.get("next") or "")
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    return target if local and allowed else ""


@require_GET
@authenticated
def interstitial(request: HttpRequest) -> HttpResponse:
    state = gate.gate_state(_actor(request))
    if not state.any:
        return redirect(_next(request) or "web:dashboard")
    return render(
        request,
        "policies/interstitial.html",
        {"state": state, "locked": state.locked, "next": _next(request), "grace_days": gate.grace().days},
    )


@require_POST
@authenticated
def interstitial_later(request: HttpRequest) -> HttpResponse:
    """Continue for now: the pending revisions are set aside for this session."""
    state = gate.gate_state(_actor(request))
    request.session[DEFERRED] = sorted({p.revision_id for p in state.pending})
    return redirect(_next(request) or "web:dashboard")


@require_http_methods(["GET", "POST"])
@authenticated
def acknowledge(request: HttpRequest, revision_id: int) -> HttpResponse:
    revision = _revision_or_404(request, revision_id, unpublished=False)
    user = _actor(request)
    current = revision.document.current_revision_id == revision.pk and revision.document.retired_at is None
    already = selectors.has_acknowledged(user=user, revision_id=revision.pk)
    error, status = "", 200
    if request.method == "POST":
        if request.POST.get("understood") != "yes":
            error, status = "Tick “I have read and understood” to acknowledge.", 400
        else:
            try:
                services.acknowledgement_record(actor=user, revision_id=revision.pk)
            except services.PolicyError as refused:
                error, status = str(refused), 409
            else:
                messages.success(
                    request, f"Acknowledged: {revision.document.title}, revision {revision.number}."
                )
                if gate.gate_state(user).any:
                    return redirect(reverse_interstitial(_next(request)))
                return redirect(_next(request) or "policies:mine")
    return render(
        request,
        "policies/acknowledge.html",
        {
            "revision": revision,
            "document": revision.document,
            "body": text.render(revision.body),
            "current": current,
            "already": already,
            "next": _next(request),
            "error": error,
        },
        status=status,
    )


def reverse_interstitial(next_url: str) -> str:
    return reverse("policies:interstitial") + ("?" + urlencode({"next": next_url}) if next_url else "")


@require_GET
@authenticated
def mine(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    return render(
        request,
        "policies/mine.html",
        {
            "state": gate.gate_state(user),
            "acknowledgements": list(selectors.acknowledgements_of(user=user)[:200]),
        },
    )

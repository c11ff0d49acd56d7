"""Pages for HR officers and managers: people, onboarding gates, training,
terminations, access reviews and the HR import. Thin: forms validate,
services act, selectors read."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.identity.decorators import authenticated, requires, step_up_required
from safeward.identity.errors import InvalidState
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.workforce import importer, selectors, services
from safeward.workforce.forms import (
    AccountForm,
    AgreementPublishForm,
    CampaignForm,
    CompletionForm,
    CourseDefineForm,
    DecisionForm,
    ImportForm,
    IssueForm,
    PersonForm,
    PositionDefineForm,
    PositionForm,
    SignatureForm,
    TerminateForm,
)
from safeward.workforce.models import (
    Person,
    Position,
    ReviewCampaign,
    ReviewItem,
    Termination,
    TrainingCourse,
)
from safeward.workforce.policy import workforce_state


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _person(person_id: int) -> Person:
    return get_object_or_404(
        Person.objects.select_related("position", "department", "manager", "user"), pk=person_id
    )


@require_GET
@requires(Perm.WORKFORCE_PERSON_READ)
def people(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:40]
    status = request.GET.get("status", "")
    if status not in Person.Status.values:
        status = ""
    return render(
        request,
        "workforce/people.html",
        {
            "people": selectors.people_list(query=query, status=status)[:300],
            "query": query,
            "status": status,
            "statuses": Person.Status.choices,
            "upcoming": selectors.terminations_upcoming()[:5],
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def person_create(request: HttpRequest) -> HttpResponse:
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person = services.person_create(actor=_actor(request), **form.cleaned_data)
        messages.success(request, f"{person.full_name} added; onboarding training assigned.")
        return redirect("workforce:person", person_id=person.pk)
    return render(request, "workforce/person_form.html", {"form": form}, status=400 if form.errors else 200)


@require_GET
@requires(Perm.WORKFORCE_PERSON_READ)
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    return _person_page(request, _person(person_id))


def _person_page(request: HttpRequest, person: Person, **bound: forms.Form) -> HttpResponse:
    """The person's page. A form that failed comes back in `bound` (what was
    typed stays, its errors beside the fields) and the page answers 400."""
    page_forms: dict[str, forms.Form] = {
        "account_form": AccountForm(),
        "signature_form": SignatureForm(),
        "completion_form": CompletionForm(),
        "position_form": PositionForm(),
        "terminate_form": TerminateForm(),
        "issue_form": IssueForm(),
        **bound,
    }
    return render(
        request,
        "workforce/person.html",
        {
            "person": person,
            "gates": selectors.onboarding_gates(person=person),
            "training": selectors.person_training(person=person),
            "terminations": person.terminations.order_by("-requested_at"),
            "items": person.issued_items.all(),
            **page_forms,
            "agreement": selectors.agreement_current(),
            "now": clock.now(),
        },
        status=400 if bound else 200,
    )


def _back(person: Person) -> HttpResponse:
    return redirect("workforce:person", person_id=person.pk)


def _invalid(request: HttpRequest, person: Person, name: str, form: forms.Form) -> HttpResponse:
    messages.error(request, "Not saved: correct the marked fields.")
    return _person_page(request, person, **{name: form})


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def person_account(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(person_id)
    form = AccountForm(request.POST)
    if not form.is_valid():
        return _invalid(request, person, "account_form", form)
    try:
        services.person_account_create(actor=_actor(request), person=person, **form.cleaned_data)
    except InvalidState as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Account created, disabled until onboarding is complete.")
    return _back(person)


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def person_activate(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(person_id)
    try:
        services.person_activate(actor=_actor(request), person=person)
    except InvalidState as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Account activated; the position's roles were requested.")
    return _back(person)


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def person_sign(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(person_id)
    form = SignatureForm(request.POST)
    document = selectors.agreement_current()
    if document is None:
        messages.error(request, "No confidentiality agreement is published yet; publish one first.")
        return _back(person)
    if not form.is_valid():
        return _invalid(request, person, "signature_form", form)
    try:
        services.agreement_sign(
            actor=_actor(request),
            person=person,
            document=document,
            signer_name=form.cleaned_data["signer_name"],
        )
    except InvalidState as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Signature on v{document.version} recorded.")
    return _back(person)


@require_POST
@requires(Perm.WORKFORCE_TRAINING_MANAGE)
def person_training_complete(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(person_id)
    form = CompletionForm(request.POST)
    if not form.is_valid():
        return _invalid(request, person, "completion_form", form)
    try:
        services.training_complete(
            actor=_actor(request),
            person=person,
            course=form.cleaned_data["course"],
            completed_at=form.completed_at(),
        )
    except InvalidState as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Completion recorded.")
    return _back(person)


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def person_position(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(person_id)
    form = PositionForm(request.POST)
    if not form.is_valid():
        return _invalid(request, person, "position_form", form)
    try:
        services.person_position_change(actor=_actor(request), **form.cleaned_data, person=person)
    except (InvalidState, PermissionDenied) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Position changed; old roles revoked, new ones requested.")
    return _back(person)


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def person_issue(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(person_id)
    form = IssueForm(request.POST)
    if not form.is_valid():
        return _invalid(request, person, "issue_form", form)
    services.item_issue(actor=_actor(request), person=person, **form.cleaned_data)
    messages.success(request, "Item recorded.")
    return _back(person)


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
@step_up_required
def person_terminate(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(person_id)
    form = TerminateForm(request.POST)
    if not form.is_valid():
        return _invalid(request, person, "terminate_form", form)
    if form.cleaned_data["when"] == "now":
        effective_at = clock.now()
    else:
        effective_at = services.end_of_last_day(form.cleaned_data["last_day"])
    try:
        termination = services.termination_schedule(
            actor=_actor(request),
            person=person,
            effective_at=effective_at,
            reason=form.cleaned_data["reason"],
        )
    except (InvalidState, PermissionDenied) as error:
        messages.error(request, str(error))
    else:
        if termination.status == Termination.Status.APPLIED:
            messages.success(
                request,
                f"Access ended: {termination.sessions_ended} session(s) ended, "
                f"{termination.tokens_revoked} API token(s) revoked.",
            )
        else:
            messages.success(request, f"Termination scheduled for {termination.effective_at:%Y-%m-%d %H:%M}.")
    return _back(person)


@require_GET
@requires(Perm.WORKFORCE_PERSON_READ)
def training(request: HttpRequest) -> HttpResponse:
    from safeward.workforce.models import TrainingCourse

    return render(
        request,
        "workforce/training.html",
        {
            "overdue": selectors.training_overdue()[:200],
            "courses": TrainingCourse.objects.all(),
            "now": clock.now(),
        },
    )


@require_GET
@requires(Perm.WORKFORCE_PERSON_READ)
def terminations(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "workforce/terminations.html",
        {
            "upcoming": selectors.terminations_upcoming(),
            "recent": selectors.terminations_recent(),
            "recovery": selectors.recovery_items_open(),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.WORKFORCE_PERSON_READ)
def reviews(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm(Perm.WORKFORCE_PERSON_MANAGE):
            raise PermissionDenied
        if form.is_valid():
            try:
                campaign = services.review_campaign_create(
                    actor=_actor(request), name=form.cleaned_data["name"], deadline=form.deadline_at()
                )
            except InvalidState as error:
                form.add_error("deadline", str(error))
            else:
                messages.success(request, f"Campaign started with {campaign.items.count()} item(s).")
                return redirect("workforce:reviews")
    return render(
        request,
        "workforce/reviews.html",
        {
            "campaigns": selectors.review_campaigns(),
            "form": form,
            # The form posts here; starting a campaign needs more than reading.
            "may_start": request.user.has_perm(Perm.WORKFORCE_PERSON_MANAGE),
        },
        status=400 if form.errors else 200,
    )


@require_GET
@requires(Perm.AUDIT_REPORT_EXPORT)
def review_report(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(ReviewCampaign, pk=campaign_id)
    return render(
        request,
        "workforce/review_report.html",
        {"campaign": campaign, "items": selectors.review_report(campaign=campaign)},
    )


@require_GET
@authenticated
def me(request: HttpRequest) -> HttpResponse:
    """My training, the agreement, and the access reviews waiting for me."""
    user = _actor(request)
    person = selectors.person_for_user(user=user)
    agreement = selectors.agreement_current()
    return render(
        request,
        "workforce/me.html",
        {
            "person": person,
            "state": workforce_state(user),
            "training": selectors.person_training(person=person) if person else [],
            "agreement": agreement,
            "signature": selectors.person_signature_current(person=person) if person else None,
            "review_items": selectors.review_items_for(user=user)[:200],
            "decision_form": DecisionForm(),
            "now": clock.now(),
        },
    )


@require_POST
@authenticated
def review_decide(request: HttpRequest, item_id: int) -> HttpResponse:
    user = _actor(request)
    item = selectors.review_items_for(user=user).filter(pk=item_id).first()
    if item is None:
        raise Http404
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether the role is still needed.")
        return redirect("workforce:me")
    services.review_item_decide(actor=user, item=item, **form.cleaned_data)
    verb = "revoked" if form.cleaned_data["decision"] == ReviewItem.Decision.REVOKED else "attested"
    messages.success(request, f"{item.role_code} for {item.person.full_name}: {verb}.")
    return redirect("workforce:me")


@require_http_methods(["GET", "POST"])
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def import_changes(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > importer.MAX_BYTES:
            form.add_error("file", "The file is larger than 1 MiB.")
        else:
            try:
                result = importer.csv_import(actor=_actor(request), data=upload.read(), source="web")
            except IntegrityError:
                form.add_error("file", "The changes conflicted with a concurrent edit; nothing was applied.")
            else:
                if result.ok:
                    messages.success(request, "Every row applied.")
                else:
                    status = 400
    if form.errors:
        status = 400
    return render(request, "workforce/import.html", {"form": form, "result": result}, status=status)


# --- Positions, courses and agreement versions ------------------------------


def _setup_page(
    request: HttpRequest,
    *,
    position_form: PositionDefineForm | None = None,
    course_form: CourseDefineForm | None = None,
    agreement_form: AgreementPublishForm | None = None,
) -> HttpResponse:
    """The setup page; a form that failed comes back bound (what was typed
    stays) with status 400. `?position=CODE` / `?course=CODE` fill the form
    with an existing entry to edit it."""
    if position_form is None:
        editing = Position.objects.filter(code=request.GET.get("position", "")[:40]).first()
        position_form = PositionDefineForm(
            initial={"code": editing.code, "title": editing.title, "default_roles": editing.default_roles}
            if editing
            else None
        )
    if course_form is None:
        course = TrainingCourse.objects.filter(code=request.GET.get("course", "")[:40]).first()
        course_form = CourseDefineForm(
            initial={
                "code": course.code,
                "title": course.title,
                "description": course.description,
                "required_for_onboarding": course.required_for_onboarding,
                "days_to_complete": course.days_to_complete,
                "refresher_months": course.refresher_months,
            }
            if course
            else None
        )
    failed = any(
        form.is_bound and form.errors for form in (position_form, course_form, agreement_form) if form
    )
    return render(
        request,
        "workforce/setup.html",
        {
            "positions": Position.objects.order_by("title"),
            "courses": TrainingCourse.objects.order_by("title"),
            "agreements": selectors.agreement_versions(),
            "current_agreement": selectors.agreement_current(),
            "position_form": position_form,
            "course_form": course_form,
            "agreement_form": agreement_form or AgreementPublishForm(),
        },
        status=400 if failed else 200,
    )


@require_GET
@requires(Perm.WORKFORCE_PERSON_READ)
def setup(request: HttpRequest) -> HttpResponse:
    return _setup_page(request)


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def setup_position(request: HttpRequest) -> HttpResponse:
    form = PositionDefineForm(request.POST)
    if not form.is_valid():
        return _setup_page(request, position_form=form)
    position = services.position_save(actor=_actor(request), **form.cleaned_data)
    messages.success(request, f"Position {position.title} saved.")
    return redirect("workforce:setup")


@require_POST
@requires(Perm.WORKFORCE_TRAINING_MANAGE)
def setup_course(request: HttpRequest) -> HttpResponse:
    form = CourseDefineForm(request.POST)
    if not form.is_valid():
        return _setup_page(request, course_form=form)
    course = services.training_course_save(actor=_actor(request), **form.cleaned_data)
    messages.success(request, f"Course {course.title} saved.")
    return redirect("workforce:setup")


@require_POST
@requires(Perm.WORKFORCE_PERSON_MANAGE)
def setup_agreement(request: HttpRequest) -> HttpResponse:
    form = AgreementPublishForm(request.POST)
    if not form.is_valid():
        return _setup_page(request, agreement_form=form)
    try:
        document = services.agreement_publish(actor=_actor(request), **form.cleaned_data)
    except InvalidState as error:  # the same version published a moment ago
        form.add_error("version", str(error))
        return _setup_page(request, agreement_form=form)
    messages.success(
        request, f"Agreement v{document.version} published; people sign this version from now on."
    )
    return redirect("workforce:setup")

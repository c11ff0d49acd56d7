"""The standalone-launch patient picker (SMART `launch/patient`, ADR 0542).

A SMART app started on its own (not from a chart) asks for `launch/patient`
with `patient/` scopes. Before the consent page, the signed-in person picks
the patient here: the search runs through the gateway with the criteria in
a POST body (audited by kind, never by value), only patients the person may
see can be chosen, and the choice is read through the gateway once more
(policy and audit). It becomes a one-time launch code (`fhir.LaunchCode`,
the same record an EHR launch makes), which the authorization code and then
the access token are bound to: the token's `patient/` scopes reach that
patient and nobody else, and the token response names it (`patient`).

Nothing about the patient is kept in the session: only the OAuth request's
own parameters (client id, redirect URI, scopes, state, PKCE challenge) and
the launch code.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from oauth2_provider.models import Application

from safeward.clinical import gateway
from safeward.clinical.api import purpose_for
from safeward.clinical.forms import SearchForm
from safeward.clinical.policy import Section
from safeward.clinical.types import Forbidden, InvalidInput, NotFound, SessionContext
from safeward.fhir.oauth import allow_form_redirect, issue_launch_code
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm

PENDING = "smart_authorize_query"  # the authorization request waiting for a patient
CHOSEN = "smart_standalone"  # {"client_id": ..., "launch": ...} once a patient is chosen


def wants_patient_picker(request: HttpRequest) -> bool:
    """A standalone launch asking for a patient context: `launch/patient` in
    the scopes and no EHR `launch` parameter."""
    return "launch/patient" in request.GET.get("scope", "").split() and not request.GET.get("launch")


def chosen_launch(request: HttpRequest) -> str | None:
    """The launch code picked for this client in this session, if any."""
    chosen = request.session.get(CHOSEN)
    if isinstance(chosen, dict) and chosen.get("client_id") == request.GET.get("client_id"):
        launch = chosen.get("launch")
        return str(launch) if launch else None
    return None


def start(request: HttpRequest) -> HttpResponse:
    """Park the authorization request and send the person to the picker."""
    request.session[PENDING] = request.GET.urlencode()
    request.session.pop(CHOSEN, None)
    return HttpResponseRedirect(reverse("oauth:patient_picker"))


def _pending(request: HttpRequest) -> tuple[dict[str, str], Application | None]:
    query = {k: v[-1] for k, v in parse_qs(str(request.session.get(PENDING, ""))).items()}
    client_id = query.get("client_id", "")[:100]
    application = Application.objects.filter(client_id=client_id).first() if client_id else None
    if application is not None and not application.redirect_uri_allowed(query.get("redirect_uri", "")):
        application = None
    return query, application


def _ctx(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    assert isinstance(user, User)
    return {"actor": user, "session": SessionContext.from_request(request), "purpose": purpose_for(user)}


@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_PATIENT_READ)
def patient_picker(request: HttpRequest) -> HttpResponse:
    query, application = _pending(request)
    if application is None:
        return render(request, "fhir/picker_error.html", status=400)
    action = request.POST.get("action", "search") if request.method == "POST" else ""
    if action == "cancel":
        request.session.pop(PENDING, None)
        denied = {"error": "access_denied", "error_description": "No patient was chosen."}
        if query.get("state"):
            denied["state"] = query["state"]
        separator = "&" if "?" in query["redirect_uri"] else "?"
        return HttpResponseRedirect(f"{query['redirect_uri']}{separator}{urlencode(denied)}")
    if action == "choose":
        return _choose(request, query, application)
    form = SearchForm(request.POST if action == "search" else None)
    results = None
    status = 200
    if action == "search":
        if form.is_valid():
            data = form.cleaned_data
            try:
                page = gateway.patient_search(
                    **_ctx(request),
                    mrn=data["mrn"] or None,
                    name=data["name"] or None,
                    birth_date=data["birth_date"],
                    national_id=data["national_id"] or None,
                    page=data["page"] or 1,
                )
                # Break-glass-only rows are not offered; whether the person may open a
                # record is decided when they choose it (gateway.patient_read).
                results = [p for p in page.results if not p.restricted and Section.DEMOGRAPHICS in p.sections]
            except InvalidInput as error:
                form.add_error(None, next(iter(error.errors.values())))
                status = 400
            except Forbidden:
                status = 403
                form.add_error(None, "You cannot search patient records from here.")
        else:
            status = 400
    response = render(
        request,
        "fhir/patient_picker.html",
        {"form": form, "results": results, "application": application},
        status=status,
    )
    allow_form_redirect(
        response, application.client_id, query.get("redirect_uri", "")
    )  # "Cancel" goes back to the app
    return response


def _choose(request: HttpRequest, query: dict[str, str], application: Application) -> HttpResponse:
    patient_id = request.POST.get("patient_id", "")[:64]
    try:
        view = gateway.patient_read(**_ctx(request), patient_id=patient_id)
    except NotFound:
        view = None
    if view is None or Section.DEMOGRAPHICS not in view.sections:
        response = render(
            request,
            "fhir/patient_picker.html",
            {
                "form": SearchForm(),
                "results": None,
                "application": application,
                "choose_error": "You may not open that patient's record, so it cannot be given to the app.",
            },
            status=404,
        )
        allow_form_redirect(response, application.client_id, query.get("redirect_uri", ""))
        return response
    user = request.user
    assert isinstance(user, User)
    code = issue_launch_code(user=user, patient_id=view.id)
    request.session[CHOSEN] = {"client_id": application.client_id, "launch": code}
    request.session.pop(PENDING, None)
    return HttpResponseRedirect(f"{reverse('oauth:authorize')}?{urlencode(query)}")

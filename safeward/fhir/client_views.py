"""The OAuth/SMART client registry page (ADR 0606): list, register, edit,
set the expiry, revoke. Everything needs `fhir:client:manage`; every change
also a fresh second factor (step-up). The services in safeward/fhir/clients.py
check and audit; these views only translate forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.fhir import clients, extensions
from safeward.fhir.models import ClientKey
from safeward.identity.decorators import requires, step_up_required
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_by_username

TEXTAREA = {"rows": 3, "spellcheck": "false"}


class AccountField(forms.CharField):
    """A username, resolved to its active account."""

    def clean(self, value: Any) -> User | None:
        username = super().clean(value)
        if not username:
            return None
        user = user_by_username(username=username)
        if user is None or not user.is_active:
            raise forms.ValidationError("No active account with this username.")
        return user


class ClientFields(forms.Form):
    name = forms.CharField(
        max_length=100, label="Name", help_text="As people will see it on the consent page."
    )
    owner = AccountField(
        max_length=150, label="Owner", help_text="Username of the person who answers for it."
    )
    scopes = forms.CharField(
        max_length=2000,
        label="Allowed scopes",
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="SMART scopes it may ever ask for, separated by spaces, e.g. "
        "<code>openid fhirUser launch/patient patient/*.rs</code>.",
    )
    redirect_uris = forms.CharField(
        required=False,
        max_length=5000,
        label="Redirect URIs",
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="Apps only: one https URI per line.",
    )
    jwks = forms.CharField(
        required=False,
        max_length=20_000,
        label="Public key (JWKS)",
        widget=forms.Textarea(attrs={**TEXTAREA, "rows": 6}),
        help_text='Backend services only: <code>{"keys": [{...}]}</code> with one public RSA or EC key '
        "and its <code>kid</code>.",
    )


class RegisterForm(ClientFields):
    grant = forms.ChoiceField(
        label="Kind",
        choices=[
            ("authorization-code", "SMART app (authorization code with PKCE)"),
            ("client-credentials", "Backend service (client credentials, signed JWT)"),
        ],
    )
    client_type = forms.ChoiceField(
        label="Client type",
        choices=[("public", "Public (no secret: browser or mobile app)"), ("confidential", "Confidential")],
    )
    service_account = AccountField(
        required=False,
        max_length=150,
        label="Service account",
        help_text="Backend services only: the account whose rights bound its tokens.",
    )
    expires = forms.DateField(
        label="Expires", widget=forms.DateInput(attrs={"type": "date"}), help_text="Refused after this day."
    )
    field_order = [
        "name",
        "grant",
        "client_type",
        "owner",
        "service_account",
        "scopes",
        "redirect_uris",
        "jwks",
    ]


class ExpiryForm(forms.Form):
    expires = forms.DateField(label="New expiry", widget=forms.DateInput(attrs={"type": "date"}))


class RevokeForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Reason")


def _day_end(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))


def _errors_onto(form: forms.Form, error: ValidationError) -> None:
    for field, texts in error.message_dict.items():
        name = {"expires_at": "expires"}.get(field, field)
        for text in texts:
            form.add_error(name if name in form.fields else None, text)


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _registration(registration_id: int) -> Any:
    registration = clients.client_get(registration_id=registration_id)
    if registration is None:
        raise Http404("No such client.")
    return registration


@require_GET
@requires(Perm.FHIR_CLIENT_MANAGE)
def client_list(request: HttpRequest) -> HttpResponse:
    rows = [(r, clients.client_state(r)) for r in clients.clients_list()]
    return render(request, "fhir/clients/list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@requires(Perm.FHIR_CLIENT_MANAGE)
@step_up_required
def client_register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(
        request.POST or None, initial={"expires": (clock.now() + dt.timedelta(days=365)).date()}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                registered = clients.client_register(
                    actor=_actor(request),
                    name=data["name"],
                    owner=data["owner"],
                    grant=data["grant"],
                    client_type=data["client_type"],
                    scopes=data["scopes"],
                    redirect_uris=data["redirect_uris"],
                    jwks=data["jwks"],
                    service_account=data["service_account"],
                    expires_at=_day_end(data["expires"]),
                )
            except ValidationError as error:
                _errors_onto(form, error)
            else:
                # Rendered, not redirected: the secret is on this one page and nowhere else.
                return render(
                    request,
                    "fhir/clients/registered.html",
                    {"registration": registered.registration, "client_secret": registered.client_secret},
                    status=201,
                )
    return render(request, "fhir/clients/register.html", {"form": form}, status=status)


@require_GET
@requires(Perm.FHIR_CLIENT_MANAGE)
def client_detail(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = _registration(registration_id)
    return _detail(request, registration)


def _detail(
    request: HttpRequest, registration: Any, *, edit: forms.Form | None = None, status: int = 200
) -> HttpResponse:
    application = registration.application
    edit = edit or ClientFields(
        initial={
            "name": application.name,
            "owner": registration.owner.username,
            "scopes": registration.allowed_scopes,
            "redirect_uris": "\n".join(application.redirect_uris.split()),
        }
    )
    context = {
        "registration": registration,
        "state": clients.client_state(registration),
        "key": ClientKey.objects.filter(application=application).first(),
        "edit": edit,
        "expiry": ExpiryForm(initial={"expires": registration.expires_at.date()}),
        "revoke": RevokeForm(),
        # Other apps' sections (the device a kiosk client is linked to, ADR 1018).
        "panels": extensions.client_panels(application_id=application.pk, reader=_actor(request)),
    }
    return render(request, "fhir/clients/detail.html", context, status=status)


@require_POST
@requires(Perm.FHIR_CLIENT_MANAGE)
@step_up_required
def client_edit(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = _registration(registration_id)
    form = ClientFields(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            clients.client_update(
                actor=_actor(request),
                registration_id=registration.pk,
                name=data["name"],
                owner=data["owner"],
                scopes=data["scopes"],
                redirect_uris=data["redirect_uris"],
                jwks=data["jwks"],
            )
        except ValidationError as error:
            _errors_onto(form, error)
        else:
            messages.success(request, "Registration saved.")
            return redirect("oauth_clients:detail", registration_id=registration.pk)
    return _detail(request, registration, edit=form, status=400)


@require_POST
@requires(Perm.FHIR_CLIENT_MANAGE)
@step_up_required
def client_expiry(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = _registration(registration_id)
    form = ExpiryForm(request.POST)
    if form.is_valid():
        try:
            clients.client_set_expiry(
                actor=_actor(request),
                registration_id=registration.pk,
                expires_at=_day_end(form.cleaned_data["expires"]),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Expiry changed.")
    else:
        messages.error(request, "Give the new expiry as a date.")
    return redirect("oauth_clients:detail", registration_id=registration.pk)


@require_POST
@requires(Perm.FHIR_CLIENT_MANAGE)
@step_up_required
def client_revoke(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = _registration(registration_id)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            ended = clients.client_revoke(
                actor=_actor(request), registration_id=registration.pk, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Client revoked; {ended} token(s) ended.")
    else:
        messages.error(request, "Give a reason for revoking the client.")
    return redirect("oauth_clients:detail", registration_id=registration.pk)

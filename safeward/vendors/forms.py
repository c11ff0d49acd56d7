"""The one validation of the vendor register's input, for the pages and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from safeward.fhir import clients as fhir_clients
from safeward.identity.models import User
from safeward.identity.selectors import user_by_username, users_list
from safeward.vendors import services as vendor_services
from safeward.vendors.models import Agreement, Credential, Vendor


def owner_choices() -> list[tuple[str, str]]:
    return [
        (str(user.pk), f"{user.get_full_name() or user.username} ({user.username})")
        for user in users_list().filter(is_active=True)
    ]


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's refusal shown on the form, by field where the form has it."""
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class VendorForm(forms.Form):
    name = forms.CharField(max_length=120)
    legal_name = forms.CharField(max_length=200)
    identifiers = forms.CharField(max_length=200, required=False, help_text="Tax id, DUNS, registry numbers.")
    services = forms.CharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    contacts = forms.CharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.TypedChoiceField(coerce=int, help_text="Who at the hospital owns the relationship.")
    phi_categories = forms.MultipleChoiceField(
        choices=vendor_services.PHI_CATEGORIES, required=False, widget=forms.CheckboxSelectMultiple
    )
    phi_volume = forms.ChoiceField(choices=Vendor.Volume.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_choices()  # type: ignore[attr-defined]

    def owner_user(self) -> User:
        return User.objects.get(pk=self.cleaned_data["owner"])


class AgreementForm(forms.Form):
    kind = forms.ChoiceField(choices=Agreement.Kind.choices)
    reference = forms.CharField(max_length=80)
    covers_phi = forms.BooleanField(required=False, label="Covers PHI")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="Last day of the first term."
    )
    renewal = forms.ChoiceField(choices=Agreement.Renewal.choices)
    renewal_months = forms.IntegerField(min_value=1, max_value=120, initial=12)
    notice_days = forms.IntegerField(min_value=0, max_value=730, initial=60)
    breach_notice_days = forms.IntegerField(
        min_value=1, max_value=60, initial=30, help_text="HIPAA 164.410 allows at most 60 days."
    )
    subcontractors_allowed = forms.BooleanField(required=False)
    end_of_term = forms.ChoiceField(choices=Agreement.EndOfTerm.choices, label="At the end")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start_date") and data.get("end_date") and data["end_date"] < data["start_date"]:
            self.add_error("end_date", "The end date is before the start date.")
        return data


class CredentialForm(forms.Form):
    kind = forms.ChoiceField(choices=Credential.Kind.choices)
    agreement = forms.TypedChoiceField(coerce=int)
    username = forms.CharField(max_length=150, required=False, help_text="For a vendor staff account.")
    client = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, help_text="For an OAuth client."
    )
    label = forms.CharField(max_length=120, required=False, help_text="For a remote-support path or API key.")

    def __init__(self, *args: Any, vendor: Vendor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agreement"].choices = [  # type: ignore[attr-defined]
            (a.pk, str(a)) for a in vendor.agreements.filter(status=Agreement.Status.ACTIVE, covers_phi=True)
        ]
        self.fields["client"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (r.pk, r.application.name) for r in fhir_clients.clients_list() if r.revoked_at is None
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == Credential.Kind.ACCOUNT:
            user = user_by_username(username=data["username"]) if data.get("username") else None
            if user is None:
                self.add_error("username", "Give the username of an existing account.")
            data["user"] = user
        elif kind == Credential.Kind.OAUTH_CLIENT and not data.get("client"):
            self.add_error("client", "Choose the OAuth client.")
        elif kind in (Credential.Kind.REMOTE_SUPPORT, Credential.Kind.API_KEY) and not data.get("label"):
            self.add_error("label", "Describe the path or key.")
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300)


class NoticeForm(forms.Form):
    given_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class RenewForm(forms.Form):
    end_date = forms.DateField(label="New last day", widget=forms.DateInput(attrs={"type": "date"}))


class DocumentForm(forms.Form):
    title = forms.CharField(max_length=200)
    file = forms.FileField(label="Signed document (PDF, PNG, JPEG or text)")


class QuestionnaireSendForm(forms.Form):
    contact_name = forms.CharField(max_length=120, help_text="The person at the vendor who will answer.")
    contact_email = forms.EmailField(max_length=200, help_text="The single-use link is e-mailed here.")
    days = forms.IntegerField(min_value=1, max_value=30, initial=14, help_text="How long the link works.")


class SignOffForm(forms.Form):
    note = forms.CharField(max_length=500, required=False)

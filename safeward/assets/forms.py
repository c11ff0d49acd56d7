"""The one validation of an asset's fields, used by the pages, the REST API
and the CSV import alike."""

from __future__ import annotations

from typing import Any

from django import forms

from safeward.assets.models import Asset
from safeward.crypto.phi import PhiCategory
from safeward.fhir.clients import client_names
from safeward.identity.selectors import department_choices
from safeward.workforce.selectors import people_list

MAX_SERVICES = 30
MAX_SERVICE_LENGTH = 80
PHI_CHOICES = [
    (category.value, category.label) for category in PhiCategory if category != PhiCategory.NOT_PHI
]

EDITABLE_FIELDS = (
    "name",
    "kind",
    "description",
    "owner_person_id",
    "custodian_person_id",
    "location",
    "hosting",
    "vendor_name",
    "network_zone",
    "classification",
    "phi_categories",
    "record_count_estimate",
    "encrypted_at_rest",
    "encrypted_at_rest_evidence",
    "encrypted_in_transit",
    "encrypted_in_transit_evidence",
    "retention",
    "criticality",
    "rto_minutes",
    "rpo_minutes",
    "clinical_services",
    "department_ids",
    "last_reviewed_on",
    "next_review_due",
    "last_assessed_on",
    "next_assessment_due",
)
# SafeWard's own stores are classified from the model metadata.
COMPUTED_FIELDS = ("classification", "phi_categories")


def person_choices() -> list[tuple[str, str]]:
    people = people_list(status="active").values_list("pk", "last_name", "first_name", "employee_number")
    return [("", "—")] + [(str(pk), f"{last}, {first} ({number})") for pk, last, first, number in people]


class AssetForm(forms.ModelForm):  # type: ignore[type-arg]
    owner_person_id = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Owner")
    custodian_person_id = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Custodian"
    )
    phi_categories = forms.MultipleChoiceField(
        choices=PHI_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label="PHI categories held"
    )
    department_ids = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label="Departments relying on it", widget=forms.SelectMultiple
    )
    clinical_services = forms.CharField(
        required=False,
        max_length=MAX_SERVICES * (MAX_SERVICE_LENGTH + 2),
        help_text="Comma-separated, e.g. Emergency, Radiology.",
        label="Clinical services relying on it",
    )
    depends_on = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.none(), required=False, label="Depends on", widget=forms.SelectMultiple
    )
    client_ids = forms.MultipleChoiceField(
        required=False,
        label="OAuth clients it is",
        widget=forms.SelectMultiple,
        help_text="Registered FHIR / REST API clients: their pulls' export manifests name this asset "
        "as the destination.",
    )

    class Meta:
        model = Asset
        fields = EDITABLE_FIELDS
        widgets = {
            "last_reviewed_on": forms.DateInput(attrs={"type": "date"}),
            "next_review_due": forms.DateInput(attrs={"type": "date"}),
            "last_assessed_on": forms.DateInput(attrs={"type": "date"}),
            "next_assessment_due": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 3}),
            "encrypted_at_rest_evidence": forms.Textarea(attrs={"rows": 2}),
            "encrypted_in_transit_evidence": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, people: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = person_choices() if people is None else people
        self.fields["owner_person_id"].choices = choices  # type: ignore[attr-defined]
        self.fields["custodian_person_id"].choices = choices  # type: ignore[attr-defined]
        self.fields["department_ids"].choices = department_choices()  # type: ignore[attr-defined]
        self.fields["client_ids"].choices = [  # type: ignore[attr-defined]
            (client_id, f"{name} ({client_id})") for client_id, name in client_names().items()
        ]
        others = Asset.objects.exclude(review_state=Asset.ReviewState.RETIRED)
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
            self.initial.setdefault(
                "depends_on", list(self.instance.dependency_links.values_list("depends_on_id", flat=True))
            )
            self.initial["clinical_services"] = ", ".join(self.instance.clinical_services)
            self.initial.setdefault(
                "client_ids", list(self.instance.clients.values_list("client_id", flat=True))
            )
            if self.instance.source == Asset.Source.SAFEWARD:
                for name in COMPUTED_FIELDS:
                    self.fields[name].disabled = True
        self.fields["depends_on"].queryset = others  # type: ignore[attr-defined]
        self.fields["owner_person_id"].initial = self.instance.owner_person_id
        self.fields["custodian_person_id"].initial = self.instance.custodian_person_id
        # Django's choice messages repeat the submitted value; SafeWard's never do.
        for form_field in self.fields.values():
            for code in ("invalid_choice", "invalid_pk_value"):
                if code in form_field.error_messages:
                    form_field.error_messages[code] = "Select a valid choice."

    def clean_clinical_services(self) -> list[str]:
        text: str = self.cleaned_data["clinical_services"]
        services = [part.strip() for part in text.split(",") if part.strip()]
        if len(services) > MAX_SERVICES:
            raise forms.ValidationError(f"At most {MAX_SERVICES} clinical services.")
        if any(len(service) > MAX_SERVICE_LENGTH for service in services):
            raise forms.ValidationError(
                f"A clinical service name has at most {MAX_SERVICE_LENGTH} characters."
            )
        return sorted(set(services), key=services.index)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for last, following, what in (
            ("last_reviewed_on", "next_review_due", "review"),
            ("last_assessed_on", "next_assessment_due", "assessment"),
        ):
            if cleaned.get(last) and cleaned.get(following) and cleaned[following] <= cleaned[last]:
                self.add_error(following, f"The next {what} must come after the last one.")
        if cleaned.get("rpo_minutes") is not None and cleaned.get("rto_minutes") is None:
            self.add_error(
                "rto_minutes", "Give the recovery time objective with the recovery point objective."
            )
        return cleaned

    def asset_values(self) -> dict[str, Any]:
        """The cleaned model fields for the services (without the computed ones of SafeWard's stores)."""
        values = {name: self.cleaned_data[name] for name in EDITABLE_FIELDS if name in self.cleaned_data}
        if self.instance.pk is not None and self.instance.source == Asset.Source.SAFEWARD:
            for name in COMPUTED_FIELDS:
                values.pop(name, None)
        for name in ("phi_categories", "department_ids"):
            if name in values:
                values[name] = sorted(values[name] or [])
        return values

    def depends_on_ids(self) -> list[int]:
        return [asset.pk for asset in self.cleaned_data.get("depends_on") or []]

    def client_ids_value(self) -> list[str]:
        """The OAuth clients to link (the page's form; the API and the import leave links alone)."""
        return sorted(self.cleaned_data.get("client_ids") or [])


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV of the asset inventory, UTF-8, at most 1 MiB.")


class ReviewForm(forms.Form):
    kind = forms.ChoiceField(choices=[("review", "Review"), ("assessment", "Risk assessment")])
    next_due = forms.DateField(label="Next one due", widget=forms.DateInput(attrs={"type": "date"}))

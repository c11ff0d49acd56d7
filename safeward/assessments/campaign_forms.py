"""The one validation of campaign input, used by the pages and the REST API alike."""

from __future__ import annotations

from typing import Any

from django import forms

from safeward.assessments import campaign_catalog, campaign_selectors
from safeward.assessments.campaign_evidence import ACCEPTED, MAX_MEGABYTES
from safeward.assessments.campaign_services import MAX_YEAR, MIN_YEAR
from safeward.assessments.models import Finding, Maturity, Severity

MAX_REFS = 500


def _user_choices(users: Any) -> list[tuple[str, str]]:
    return [("", "—")] + [
        (str(user.pk), f"{user.get_full_name() or user.username} ({user.username})") for user in users
    ]


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    framework = forms.ChoiceField()
    year = forms.IntegerField(min_value=MIN_YEAR, max_value=MAX_YEAR)
    assessor = forms.TypedChoiceField(coerce=int)
    reviewer = forms.TypedChoiceField(coerce=int, help_text="A different person from the assessor.")
    entry_refs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Only these entries",
        help_text="Optional: catalog entry ids, one a line or comma-separated (e.g. iso27001-2022:A.5.1). "
        "Empty: every entry of the framework.",
    )
    scope_note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["framework"].choices = campaign_catalog.frameworks()  # type: ignore[attr-defined]
        self.fields["assessor"].choices = _user_choices(campaign_selectors.assessor_choices())  # type: ignore[attr-defined]
        self.fields["reviewer"].choices = _user_choices(campaign_selectors.reviewer_choices())  # type: ignore[attr-defined]

    def clean_entry_refs(self) -> list[str]:
        raw = self.cleaned_data.get("entry_refs", "")
        refs = [part.strip() for part in raw.replace(",", "\n").splitlines() if part.strip()]
        if len(refs) > MAX_REFS:
            raise forms.ValidationError(f"At most {MAX_REFS} entries.")
        return refs

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("assessor") is not None and data.get("assessor") == data.get("reviewer"):
            self.add_error("reviewer", "The reviewer must be a different person from the assessor.")
        framework, refs = data.get("framework"), data.get("entry_refs")
        if framework and refs:
            try:
                campaign_catalog.entries(framework, refs)
            except campaign_catalog.UnknownEntry as error:
                self.add_error("entry_refs", str(error))
        return data


class AnswerForm(forms.Form):
    maturity = forms.TypedChoiceField(coerce=int, choices=Maturity.choices, widget=forms.RadioSelect)
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class EvidenceForm(forms.Form):
    file = forms.FileField(
        help_text=f"{ACCEPTED}, at most {MAX_MEGABYTES} MiB. Never patient data: policies, "
        "configuration screenshots, reports."
    )


class FindingForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    severity = forms.ChoiceField(choices=Severity.choices)
    owner = forms.TypedChoiceField(coerce=int)
    due_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _user_choices(campaign_selectors.owner_choices())  # type: ignore[attr-defined]


class FindingUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=Finding.Status.choices)
    owner = forms.TypedChoiceField(coerce=int)
    due_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    resolution = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _user_choices(campaign_selectors.owner_choices())  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("status") == Finding.Status.CLOSED and not (data.get("resolution") or "").strip():
            self.add_error("resolution", "Say how the finding was resolved before closing it.")
        return data


class ReturnForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

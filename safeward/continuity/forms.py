from __future__ import annotations

from typing import Any

from django import forms

from safeward.continuity.models import Downtime, PaperEntry


class DowntimeDeclareForm(forms.Form):
    kind = forms.ChoiceField(choices=Downtime.Kind.choices)
    reason = forms.CharField(max_length=300, strip=True)

    def clean_reason(self) -> Any:
        reason = self.cleaned_data["reason"]
        if not reason:
            raise forms.ValidationError("Give the reason for the downtime.")
        return reason


class PaperEntryForm(forms.Form):
    downtime = forms.ModelChoiceField(queryset=Downtime.objects.none(), empty_label=None)
    encounter_number = forms.CharField(max_length=40, label="Downtime encounter number")
    kind = forms.ChoiceField(choices=PaperEntry.Kind.choices, label="What was recorded")
    occurred_at = forms.DateTimeField(
        label="Original time (as written on paper)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    performed_by = forms.CharField(max_length=150, label="Done by (username)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from safeward.continuity import selectors

        super().__init__(*args, **kwargs)
        field = self.fields["downtime"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors.downtimes_for_recovery()

    def clean_performed_by(self) -> Any:
        from safeward.identity.models import User

        username = self.cleaned_data["performed_by"].strip()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No active account has that username.")
        return user


class PaperChartForm(forms.Form):
    patient_id = forms.CharField(max_length=36, label="Patient (chart id)")
    encounter_id = forms.CharField(max_length=36, required=False, label="Encounter (chart id, optional)")
    text = forms.CharField(max_length=18_000, widget=forms.Textarea, label="What the paper says")

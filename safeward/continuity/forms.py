from __future__ import annotations

from typing import Any

from django import forms

from safeward.continuity.models import Downtime


class DowntimeDeclareForm(forms.Form):
    kind = forms.ChoiceField(choices=Downtime.Kind.choices)
    reason = forms.CharField(max_length=300, strip=True)

    def clean_reason(self) -> Any:
        reason = self.cleaned_data["reason"]
        if not reason:
            raise forms.ValidationError("Give the reason for the downtime.")
        return reason

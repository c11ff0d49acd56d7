"""Exception request and revocation forms (the pages and the REST API)."""

from __future__ import annotations

from django import forms

from safeward.assessments.services import MAX_REASON


class ExceptionRequestForm(forms.Form):
    control_id = forms.CharField(max_length=120)
    resource_type = forms.CharField(max_length=60)
    resource_id = forms.CharField(max_length=200)
    reason = forms.CharField(
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this resource may fail the control for now, and what compensates. No patient data.",
    )
    expires_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="At most a year from today."
    )


class ExceptionRevokeForm(forms.Form):
    reason = forms.CharField(max_length=MAX_REASON, widget=forms.Textarea(attrs={"rows": 2}))

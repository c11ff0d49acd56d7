"""Forms of incidents: opening one from an alert, adding an alert to one,
moving its status. They validate shape; the services decide."""

from __future__ import annotations

from django import forms

from safeward.detection.forms import VersionedForm
from safeward.incidents.models import Incident


class IncidentForm(VersionedForm):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Incident.Severity.choices)
    summary = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What happened and what was done so far.",
    )


class IncidentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[("open", "Open"), ("contained", "Contained"), ("closed", "Closed")])


class IncidentLinkForm(VersionedForm):
    incident_id = forms.IntegerField(min_value=1, max_value=2**62, label="Incident")

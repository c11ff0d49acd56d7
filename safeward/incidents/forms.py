"""Forms of incidents. They validate shape; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from safeward.detection.forms import VersionedForm
from safeward.incidents import selectors
from safeward.incidents.models import Incident


class IncidentForm(VersionedForm):
    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(
        choices=Incident.Category.choices, initial=Incident.Category.OTHER, required=False
    )
    severity = forms.ChoiceField(choices=Incident.Severity.choices)
    summary = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What happened and what was done so far.",
    )


class IncidentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Incident.Status.choices)
    reason = forms.CharField(
        required=False, max_length=500, help_text="Needed to reopen a case or step it back."
    )


class IncidentLinkForm(VersionedForm):
    incident_id = forms.IntegerField(min_value=1, max_value=2**62, label="Incident")


class CaseForm(forms.Form):
    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=Incident.Category.choices)
    severity = forms.ChoiceField(choices=Incident.Severity.choices)
    summary = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    is_exercise = forms.BooleanField(required=False, label="This is an exercise (tabletop or technical)")
    scenario = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    participants = forms.CharField(required=False, max_length=2000, help_text="Names, separated by commas.")


def _staff_field(label: str, *, required: bool) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(coerce=int, empty_value=None, required=required, label=label)


class AssignForm(forms.Form):
    """Owner and reviewer chosen from the people eligible (selectors.staff_choices), never typed ids."""

    category = forms.ChoiceField(choices=Incident.Category.choices)
    owner = _staff_field("Owner", required=False)
    reviewer = _staff_field("Reviewer", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        nobody: list[tuple[int | str, str]] = [("", "— nobody —")]
        owner = self.fields["owner"]
        reviewer = self.fields["reviewer"]
        assert isinstance(owner, forms.TypedChoiceField)
        assert isinstance(reviewer, forms.TypedChoiceField)
        owner.choices = [*nobody, *selectors.staff_choices(permission=selectors.OWNER_PERMISSION)]
        reviewer.choices = [*nobody, *selectors.staff_choices(permission=selectors.REVIEWER_PERMISSION)]


class NoteForm(forms.Form):
    occurred_at = forms.DateTimeField(label="When (local time)")
    time_zone = forms.CharField(max_length=64)
    text = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    for_report = forms.BooleanField(required=False, label="Include in the report")

    def clean_occurred_at(self) -> dt.datetime:
        # Django's field reads a bare time in the hospital's zone; this one is in
        # the zone typed beside it, which the service applies to a naive time.
        value: dt.datetime = self.cleaned_data["occurred_at"]
        if value.tzinfo == timezone.get_current_timezone():
            return timezone.make_naive(value)
        return value  # the time carried its own offset


class FlagForm(forms.Form):
    for_report = forms.BooleanField(required=False)


class DoneForm(forms.Form):
    done = forms.BooleanField(required=False)


class DueForm(forms.Form):
    due_at = forms.DateTimeField(required=False, label="Due; empty for none")


class TitleForm(forms.Form):
    title = forms.CharField(max_length=300)


class LessonsForm(forms.Form):
    lessons = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class ExerciseForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            ("inject", "Inject"),
            ("measurement", "Measured time"),
            ("finding", "Finding"),
            ("drill", "Drill result"),
        ]
    )
    text = forms.CharField(max_length=500)
    minutes = forms.IntegerField(required=False, min_value=0, max_value=100_000)


class EvidenceForm(forms.Form):
    title = forms.CharField(max_length=200)
    file = forms.FileField()


class TransferForm(forms.Form):
    to_user = _staff_field("To", required=True)
    note = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["to_user"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = selectors.staff_choices(permission=selectors.OWNER_PERMISSION)


class ContainForm(forms.Form):
    action = forms.CharField(max_length=40)
    target = forms.CharField(max_length=150)


class ScopeForm(forms.Form):
    window_start = forms.DateTimeField(label="Window start")
    window_end = forms.DateTimeField(label="Window end")
    usernames = forms.CharField(
        required=False, max_length=2000, help_text="Compromised accounts, comma separated."
    )
    client_ids = forms.CharField(required=False, max_length=2000, help_text="OAuth client ids.")
    session_ids = forms.CharField(
        required=False, max_length=2000, help_text="Session ids (a device's sessions)."
    )
    file_hashes = forms.CharField(
        required=False, max_length=5000, help_text="SHA-256 of exported files found outside."
    )
    gdpr = forms.BooleanField(required=False, label="GDPR applies (72-hour notice)")


class DiscoveryForm(forms.Form):
    discovered_at = forms.DateTimeField(required=False, label="Discovered at; empty to use the audit trail's")
    reason = forms.CharField(required=False, max_length=500)


class RiskForm(forms.Form):
    nature = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    recipient = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    acquired = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    mitigation = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    conclusion = forms.ChoiceField(
        choices=[("breach", "A breach to notify"), ("low_probability", "Low probability of compromise")]
    )


class NotifiedForm(forms.Form):
    which = forms.ChoiceField(choices=[("individuals", "Individuals"), ("hhs", "HHS"), ("media", "Media")])


def split_list(value: str) -> list[str]:
    return [part.strip() for part in (value or "").replace("\n", ",").split(",") if part.strip()]

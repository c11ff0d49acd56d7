"""Explicit forms for the HR and manager pages; never `fields="__all__"`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from safeward import clock
from safeward.identity.models import DRILL_USERNAME_PREFIX, Department
from safeward.identity.roles import CATALOG
from safeward.workforce.models import AgreementDocument, Person, Position, TrainingCourse


class PersonForm(forms.Form):
    employee_number = forms.RegexField(regex=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", max_length=32)
    first_name = forms.CharField(max_length=80)
    last_name = forms.CharField(max_length=80)
    kind = forms.ChoiceField(choices=Person.Kind.choices)
    department = forms.ModelChoiceField(queryset=Department.objects.all(), required=False)
    position = forms.ModelChoiceField(queryset=Position.objects.all(), required=False)
    manager = forms.ModelChoiceField(
        queryset=Person.objects.exclude(status=Person.Status.TERMINATED), required=False
    )
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean_employee_number(self) -> str:
        number: str = self.cleaned_data["employee_number"]
        if Person.objects.filter(employee_number=number).exists():
            raise forms.ValidationError("A person with this employee number exists.")
        return number


class AccountForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+$", max_length=150)
    email = forms.EmailField(required=False)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if username.lower().startswith(DRILL_USERNAME_PREFIX):
            raise forms.ValidationError(
                f"Usernames starting with '{DRILL_USERNAME_PREFIX}' are reserved for attack drills."
            )
        return username


class SignatureForm(forms.Form):
    signer_name = forms.CharField(max_length=160, label="Name typed by the signer")


class CompletionForm(forms.Form):
    course = forms.ModelChoiceField(queryset=TrainingCourse.objects.all())
    completed_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), required=False, help_text="Empty: today."
    )

    def completed_at(self) -> dt.datetime | None:
        day: dt.date | None = self.cleaned_data.get("completed_on")
        if day is None:
            return None
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_default_timezone())
        return min(moment, clock.now())


class PositionForm(forms.Form):
    position = forms.ModelChoiceField(queryset=Position.objects.all())
    reason = forms.CharField(max_length=300, required=False)


class TerminateForm(forms.Form):
    when = forms.ChoiceField(choices=[("now", "Immediately"), ("date", "At the end of a date")])
    last_day = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), required=False, label="Last working day"
    )
    reason = forms.CharField(max_length=300)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == "date" and not data.get("last_day"):
            self.add_error("last_day", "Give the last working day.")
        return data


class IssueForm(forms.Form):
    from safeward.workforce.models import IssuedItem

    kind = forms.ChoiceField(choices=IssuedItem.Kind.choices)
    identifier = forms.CharField(max_length=64)
    description = forms.CharField(max_length=160, required=False)


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=120)
    deadline = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def deadline_at(self) -> dt.datetime:
        day: dt.date = self.cleaned_data["deadline"]
        return dt.datetime.combine(day, dt.time(23, 59), tzinfo=timezone.get_default_timezone())


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("attested", "Still needed"), ("revoked", "Revoke")])
    comment = forms.CharField(max_length=300, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV export of the HR system, UTF-8, at most 1 MiB.")


class PositionDefineForm(forms.Form):
    """A position and the roles a person in it gets; an existing code updates it."""

    code = forms.SlugField(
        max_length=40, help_text="Letters, digits and hyphens. An existing code updates it."
    )
    title = forms.CharField(max_length=120)
    default_roles = forms.MultipleChoiceField(
        choices=[(spec.code, spec.name) for spec in CATALOG],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Roles a person in this position gets",
        help_text="Privileged roles still wait for a second approver.",
    )


class CourseDefineForm(forms.Form):
    """A training course; an existing code updates it."""

    code = forms.SlugField(
        max_length=40, help_text="Letters, digits and hyphens. An existing code updates it."
    )
    title = forms.CharField(max_length=160)
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    required_for_onboarding = forms.BooleanField(
        required=False, label="Must be completed before the account is activated"
    )
    days_to_complete = forms.IntegerField(min_value=1, max_value=365, initial=30)
    refresher_months = forms.IntegerField(
        min_value=0,
        max_value=120,
        initial=12,
        help_text="A refresher is assigned this long after completion; 0 for none.",
    )


class AgreementPublishForm(forms.Form):
    """A new version of the confidentiality agreement; it becomes the current
    one at once: the version people sign from now on."""

    version = forms.RegexField(
        regex=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,19}$",
        max_length=20,
        help_text="For example 2027.1. Letters, digits, dots, hyphens.",
        error_messages={"invalid": "Use letters, digits, dots and hyphens (at most 20)."},
    )
    title = forms.CharField(max_length=120, initial="Confidentiality agreement")
    body = forms.CharField(max_length=20000, widget=forms.Textarea(attrs={"rows": 8}), label="Text")

    def clean_version(self) -> str:
        version: str = self.cleaned_data["version"]
        if AgreementDocument.objects.filter(version=version).exists():
            raise forms.ValidationError("This version exists already; choose a new version number.")
        return version

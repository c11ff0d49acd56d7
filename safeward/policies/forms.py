"""The one validation of the policy library's input, used by the pages, the
REST API and the command line alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from safeward import clock
from safeward.identity.models import User
from safeward.identity.roles import CATALOG
from safeward.identity.selectors import users_list
from safeward.policies import text
from safeward.policies.models import PolicyDocument
from safeward.workforce.selectors import position_choices

MIN_PERIOD, MAX_PERIOD = 30, 3 * 365


def role_choices() -> list[tuple[str, str]]:
    return [(spec.code, spec.name) for spec in CATALOG]


def owner_choices() -> list[tuple[str, str]]:
    return [
        (str(user.pk), f"{user.get_full_name() or user.username} ({user.username})")
        for user in users_list().filter(is_active=True)
    ]


class DocumentForm(forms.Form):
    code = forms.SlugField(max_length=60, help_text="A short stable name, e.g. acceptable-use.")
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=PolicyDocument.Kind.choices)
    owner = forms.TypedChoiceField(coerce=int, help_text="Who keeps the document and its annual review.")
    review_period_days = forms.IntegerField(
        min_value=MIN_PERIOD, max_value=MAX_PERIOD, initial=365, help_text="Days between reviews."
    )
    roles = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Holders of these roles must acknowledge the current revision.",
    )
    positions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="And the people in these positions."
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_choices()  # type: ignore[attr-defined]
        self.fields["roles"].choices = role_choices()  # type: ignore[attr-defined]
        self.fields["positions"].choices = position_choices()  # type: ignore[attr-defined]
        if editing:
            del self.fields["code"]

    def owner_user(self) -> User:
        return User.objects.get(pk=self.cleaned_data["owner"])


class RevisionForm(forms.Form):
    body = forms.CharField(
        max_length=text.MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 22}),
        strip=False,
        help_text="Plain text. '# ' and '## ' start headings, '- ' list items, **bold**. HTML shows as text.",
    )
    change_summary = forms.CharField(max_length=500, required=False, label="What changed")

    def clean_body(self) -> str:
        try:
            body = text.body_clean(str(self.cleaned_data["body"]))
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        if not body.strip():
            raise forms.ValidationError("The text is empty.")
        return body


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class ReviewForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What the review found",
        help_text="The current revision stays in force; the review clock restarts.",
    )


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Empty: named after the document.")
    roles = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    positions = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    due_on = forms.DateField(label="Due by", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices()  # type: ignore[attr-defined]
        self.fields["positions"].choices = position_choices()  # type: ignore[attr-defined]

    def clean_due_on(self) -> dt.date:
        due: dt.date = self.cleaned_data["due_on"]
        today = timezone.localdate(clock.now())
        if due <= today:
            raise forms.ValidationError("The due date must be after today.")
        if due > today + dt.timedelta(days=366):
            raise forms.ValidationError("The due date must be within a year.")
        return due

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not data.get("roles") and not data.get("positions"):
            raise forms.ValidationError("Choose at least one role or position.")
        return data

    def due_at(self) -> dt.datetime:
        due: dt.date = self.cleaned_data["due_on"]
        # The end of that day in the hospital, the day the pages show.
        return dt.datetime.combine(due, dt.time(23, 59), tzinfo=timezone.get_current_timezone())

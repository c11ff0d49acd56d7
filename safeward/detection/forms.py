"""Forms of the alert queue, triage, containment, the access-review queue and
the rule configuration. They validate shape; the services decide."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.utils import timezone

from safeward.audit.selectors import user_id_by_username
from safeward.detection.models import AccessReview, Severity
from safeward.detection.queue import SORTS, AlertFilter, QueueCursor, ReviewCursor
from safeward.detection.rules import RULE_CODES
from safeward.web import json_input

STATUS_CHOICES = [
    ("open", "Open (new or in triage)"),
    ("new", "New"),
    ("triage", "In triage"),
    ("dismissed", "Dismissed"),
    ("confirmed", "Confirmed"),
    ("all", "Any status"),
]
_STATUSES = {
    "open": ("new", "triage"),
    "new": ("new",),
    "triage": ("triage",),
    "dismissed": ("dismissed",),
    "confirmed": ("confirmed",),
    "all": (),
}
MAX_RANGE_DAYS = 366


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, initial="open")
    severity = forms.ChoiceField(choices=[("", "Any"), *Severity.choices], required=False)
    rule = forms.ChoiceField(choices=[("", "Any"), *((code, code) for code in RULE_CODES)], required=False)
    subject = forms.CharField(required=False, max_length=150, label="Account (username)")
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)
    mine = forms.BooleanField(required=False, label="Assigned to me")
    drills = forms.BooleanField(required=False, label="Show drill alerts")
    sort = forms.ChoiceField(
        choices=[("severity", "Most severe first"), ("newest", "Newest first"), ("oldest", "Oldest first")],
        required=False,
        initial="severity",
    )
    after = forms.CharField(required=False, max_length=80, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Days are the hospital's, like the times the queue shows; the queue
        # shows labels only, so they name the zone.
        zone = timezone.get_current_timezone_name()
        self.fields["start"].label = f"From ({zone})"
        self.fields["end"].label = f"Until ({zone}, inclusive)"

    def clean_subject(self) -> int | None:
        username = (self.cleaned_data.get("subject") or "").strip()
        if not username:
            return None
        user_id = user_id_by_username(username=username)
        if user_id is None:
            raise forms.ValidationError("No account has that username.")
        return user_id

    def clean_after(self) -> QueueCursor | None:
        token = self.cleaned_data.get("after") or ""
        if not token:
            return None
        try:
            return QueueCursor.parse(token)
        except ValueError:
            self.add_error(None, "The page link is not valid; start from the first page.")
            return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start must not be after the end.")
            if (end - start).days > MAX_RANGE_DAYS:
                raise forms.ValidationError(f"The range may span at most {MAX_RANGE_DAYS} days.")
        return data

    def alert_filter(self, *, me: int) -> AlertFilter:
        data = self.cleaned_data
        start = data.get("start")
        end = data.get("end")
        zone = timezone.get_current_timezone()
        return AlertFilter(
            statuses=_STATUSES[data.get("status") or "open"],
            severities=(data["severity"],) if data.get("severity") else (),
            rule=data.get("rule") or "",
            subject_user_id=data.get("subject"),
            start=dt.datetime.combine(start, dt.time(), tzinfo=zone) if start else None,
            end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone) if end else None,
            drills=bool(data.get("drills")),
            assignee_id=me if data.get("mine") else None,
            sort=str(data.get("sort")) if data.get("sort") in SORTS else "severity",
        )


class VersionedForm(forms.Form):
    version = forms.CharField(max_length=64, widget=forms.HiddenInput)


class AssignForm(VersionedForm):
    assignee = forms.CharField(max_length=20, label="Assign to")

    def clean_assignee(self) -> str:
        value = str(self.cleaned_data["assignee"]).strip()
        if value != "me" and not value.isdigit():
            raise forms.ValidationError("Choose a person from the list.")
        return value


class ReasonForm(VersionedForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500}),
        help_text="No patient names or details: the reason is kept with the alert.",
    )


class ContainForm(forms.Form):
    lock = forms.BooleanField(required=False, initial=True, label="Lock the account")
    end_sessions = forms.BooleanField(required=False, initial=True, label="End all its sessions")
    revoke_tokens = forms.BooleanField(required=False, initial=True, label="Revoke its OAuth tokens")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("lock") or data.get("end_sessions") or data.get("revoke_tokens")):
            raise forms.ValidationError("Choose at least one step.")
        return data


class ReviewFilterForm(forms.Form):
    status = forms.ChoiceField(choices=AccessReview.Status.choices, required=False, initial="open")
    drills = forms.BooleanField(required=False, label="Show drill accesses")
    after = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)

    def clean_after(self) -> ReviewCursor | None:
        token = self.cleaned_data.get("after") or ""
        if not token:
            return None
        try:
            return ReviewCursor.parse(token)
        except ValueError:
            self.add_error(None, "The page link is not valid; start from the first page.")
            return None


class ReviewDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (AccessReview.Status.APPROPRIATE, "Appropriate"),
            (AccessReview.Status.INAPPROPRIATE, "Inappropriate"),
        ]
    )
    comment = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"maxlength": 500}))


class RuleForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Enabled")
    severity = forms.ChoiceField(choices=Severity.choices)
    params = forms.CharField(
        label="Parameters (JSON)",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "json"}),
        max_length=20_000,
        help_text="Thresholds of this rule as a JSON object; checked by the rule before saving.",
    )
    version = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean_params(self) -> dict[str, Any]:
        try:
            value = json_input.loads(self.cleaned_data["params"])
        except json_input.TooDeep as error:
            raise forms.ValidationError(str(error)) from None
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                f"Not valid JSON (line {error.lineno}, column {error.colno})."
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("The parameters must be a JSON object ({...}).")
        return value

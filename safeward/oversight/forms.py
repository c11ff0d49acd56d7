"""Filters of the audit report and the disclosure accounting. Every bad
input is a form error with a plain message (400), never an exception."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.utils import timezone

from safeward import clock
from safeward.audit import selectors
from safeward.audit.vocabulary import Action, Outcome

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
PATIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
PATIENT_ID_HELP = "A patient identifier: letters, digits, dot, dash, colon or underscore (up to 64)."


class _DateTimeField(forms.Field):
    """Accepts 2026-11-02 or 2026-11-02T09:30, in the hospital's time zone (the
    one the report's times are shown in) unless an offset is given."""

    widget = forms.TextInput(attrs={"maxlength": 32, "inputmode": "numeric"})

    def to_python(self, value: Any) -> dt.datetime | None:
        text = str(value or "").strip()
        if not text:
            return None
        if len(text) > 32:
            raise forms.ValidationError("Enter a date as YYYY-MM-DD.")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(
                "Enter a date as YYYY-MM-DD, or a date and time as YYYY-MM-DDTHH:MM."
            ) from None
        if moment.year < 2000 or moment.year > 2200:
            raise forms.ValidationError("Enter a date between the years 2000 and 2200.")
        return moment if moment.tzinfo else timezone.make_aware(moment)


def _patient_id(value: str) -> str:
    value = value.strip()
    if value and not PATIENT_ID.match(value):
        raise forms.ValidationError(PATIENT_ID_HELP)
    return value


class ReportFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="User (username)")
    patient = forms.CharField(required=False, max_length=64, label="Patient id")
    action = forms.ChoiceField(required=False, choices=[("", "any"), *((a.value, a.value) for a in Action)])
    outcome = forms.ChoiceField(required=False, choices=[("", "any"), *((o.value, o.value) for o in Outcome)])
    start = _DateTimeField(required=False, label="From")
    end = _DateTimeField(required=False, label="Until")
    sort = forms.ChoiceField(
        required=False, choices=[("newest", "newest first"), ("oldest", "oldest first")], initial="newest"
    )
    after = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        for name in ("start", "end"):
            self.fields[name].help_text = f"YYYY-MM-DD ({zone})"

    def clean_patient(self) -> str:
        return _patient_id(self.cleaned_data.get("patient") or "")

    def clean_user(self) -> int | None:
        username = (self.cleaned_data.get("user") or "").strip()
        if not username:
            return None
        user_id = selectors.user_id_by_username(username=username)
        if user_id is None:
            raise forms.ValidationError("No user has that username.")
        return user_id

    def clean_after(self) -> selectors.Cursor | None:
        token = self.cleaned_data.get("after") or ""
        if not token:
            return None
        try:
            return selectors.Cursor.parse(token)
        except ValueError:
            # A hidden field: the message goes to the top of the form.
            self.add_error(None, "The page link is not valid; start from the first page.")
            return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        end = data.get("end")
        start = data.get("start")
        if end is not None and len(self.data.get("end", "")) <= 10:
            end = end + dt.timedelta(days=1)  # a date "until" includes that whole day
        end = end or clock.now() + dt.timedelta(seconds=1)
        start = start or end - dt.timedelta(days=DEFAULT_RANGE_DAYS)
        if start >= end:
            raise forms.ValidationError("The start must be before the end.")
        if end - start > dt.timedelta(days=MAX_RANGE_DAYS):
            raise forms.ValidationError(
                f"The time range may span at most {MAX_RANGE_DAYS} days; "
                "narrow it or filter by user or patient."
            )
        data["start"], data["end"] = start, end
        return data

    def event_filter(self) -> selectors.EventFilter:
        data = self.cleaned_data
        return selectors.EventFilter(
            start=data["start"],
            end=data["end"],
            actor_id=data.get("user"),
            patient_id=data.get("patient") or "",
            action=data.get("action") or "",
            outcome=data.get("outcome") or "",
            newest_first=(data.get("sort") or "newest") == "newest",
        )


class DisclosureForm(forms.Form):
    patient = forms.CharField(max_length=64, label="Patient id", help_text=PATIENT_ID_HELP)

    def clean_patient(self) -> str:
        value = _patient_id(self.cleaned_data.get("patient") or "")
        if not value:
            raise forms.ValidationError("Enter a patient id.")
        return value

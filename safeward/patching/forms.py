"""Forms of the patching pages: import an inventory or a feed, triage a
finding, ask for an exception, change a cell of the deadline table, plan
a patch in a maintenance window and move the plan on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from safeward.patching.models import Finding, PatchPlan, RiskException, Severity
from safeward.patching.sbom import MAX_BYTES

FORMATS = [
    ("", "Detect (CycloneDX JSON/XML, SPDX JSON)"),
    ("cyclonedx_json", "CycloneDX JSON"),
    ("cyclonedx_xml", "CycloneDX XML"),
    ("spdx_json", "SPDX 2.3 JSON"),
    ("dpkg", "dpkg -l output"),
    ("pip", "pip freeze output"),
    ("firmware", "Firmware versions (one per line)"),
]
RESPONSES = [
    ("can_not_fix", "Can not fix"),
    ("will_not_fix", "Will not fix"),
    ("update", "Update"),
    ("rollback", "Rollback"),
    ("workaround_available", "Workaround available"),
]


class InventoryImportForm(forms.Form):
    asset = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Asset")
    device_id = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="or device id")
    format = forms.ChoiceField(choices=FORMATS, required=False)
    file = forms.FileField(help_text=f"SBOM or package list, at most {MAX_BYTES // (1024 * 1024)} MiB.")

    def __init__(self, *args: Any, assets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["asset"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "—"), *assets]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("asset")) == bool(data.get("device_id")):
            raise forms.ValidationError("Choose an asset or give a device id (one of them).")
        return data


FEEDS = [
    ("osv", "OSV records (zip, tar.gz, JSON or YAML)"),
    ("kev", "CISA KEV catalog (JSON)"),
    ("epss", "EPSS daily scores (CSV)"),
    ("vex", "CycloneDX VEX or OpenVEX (JSON)"),
]


class FeedImportForm(forms.Form):
    feed = forms.ChoiceField(choices=FEEDS)
    file = forms.FileField()


class TriageForm(forms.Form):
    state = forms.ChoiceField(choices=Finding.State.choices)
    justification = forms.ChoiceField(choices=Finding.Justification.choices, required=False)
    response = forms.MultipleChoiceField(
        choices=RESPONSES, required=False, widget=forms.CheckboxSelectMultiple
    )
    detail = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class ExceptionForm(forms.Form):
    decision = forms.ChoiceField(choices=RiskException.Decision.choices)
    justification = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    control = forms.CharField(
        max_length=64,
        label="Compensating control test",
        help_text="A control test id, e.g. devices.compensating_controls.",
    )
    resource = forms.CharField(
        max_length=200, label="Resource it judges", help_text="e.g. compensating-control:3 or device:12."
    )
    expires_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Expires on")

    def __init__(self, *args: Any, controls: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if controls:
            self.fields["control"].widget = forms.Select(
                choices=[(cid, f"{cid} — {title}") for cid, title in controls]
            )

    def clean_expires_on(self) -> dt.date:
        value: dt.date = self.cleaned_data["expires_on"]
        return value


class PolicyCellForm(forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices)
    exposure = forms.ChoiceField(choices=[("dmz", "DMZ"), ("internal", "Internal")])
    days = forms.IntegerField(required=False, min_value=1, max_value=3650, help_text="Blank: at discretion.")


def _window_field(label: str, *, required: bool = True) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class PlanForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="e.g. OpenSSL upgrade on the interface engine.")
    findings = forms.TypedMultipleChoiceField(
        coerce=int, widget=forms.CheckboxSelectMultiple, label="Findings this plan fixes"
    )
    window_start = _window_field("Maintenance window starts")
    window_end = _window_field("Window ends")
    change_ref = forms.CharField(
        max_length=40,
        required=False,
        label="Change record",
        help_text="Its reference in the change process (e.g. CHG0031234); without one the plan waits.",
    )
    notes = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Notes (rollback, checks)",
    )

    def __init__(self, *args: Any, findings: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["findings"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = findings


PLAN_MOVES = [
    (PatchPlan.Status.SCHEDULED, "Schedule (change approved) / reschedule"),
    (PatchPlan.Status.APPLIED, "Applied in the window"),
    (PatchPlan.Status.CANCELLED, "Cancel"),
]


class PlanUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=PLAN_MOVES, label="Move the plan to")
    change_ref = forms.CharField(max_length=40, required=False, label="Change record")
    window_start = _window_field("New window starts", required=False)
    window_end = _window_field("New window ends", required=False)
    note = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))

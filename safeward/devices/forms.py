"""The one validation of device input, used by the pages, the REST API, the
CSV imports and the command line alike."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any

from django import forms

from safeward import clock
from safeward.devices.models import CompensatingControl, Device, NetworkSegment, SegmentFlow
from safeward.identity.selectors import users_list

MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
EVIDENCE_TYPES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
}


def segment_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(str(s.pk), s.name) for s in NetworkSegment.objects.all()]


class DeviceForm(forms.Form):
    kind = forms.ChoiceField(choices=Device.Kind.choices)
    asset_tag = forms.CharField(max_length=64)
    name = forms.CharField(max_length=200, required=False, help_text="Host name or a label people use.")
    manufacturer = forms.CharField(max_length=200, required=False)
    model = forms.CharField(max_length=200, required=False)
    serial = forms.CharField(max_length=200, required=False)
    os_name = forms.CharField(max_length=100, required=False, label="OS or firmware")
    os_version = forms.CharField(max_length=100, required=False, label="OS or firmware version")
    location = forms.CharField(max_length=300, required=False)
    segment = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Network segment")
    ip_address = forms.GenericIPAddressField(required=False, label="IP address")
    mac_address = forms.CharField(max_length=17, required=False, label="MAC address")
    end_of_support = forms.DateField(
        required=False,
        help_text="The manufacturer's end of support (YYYY-MM-DD); past it the device is legacy.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = segment_choices()  # type: ignore[attr-defined]

    def clean_mac_address(self) -> str:
        value = str(self.cleaned_data.get("mac_address") or "").strip()
        if value and not MAC.match(value):
            raise forms.ValidationError("Six pairs of hex digits, e.g. 00:1A:2B:3C:4D:5E.")
        return value.upper().replace("-", ":")

    def clean_asset_tag(self) -> str:
        value = str(self.cleaned_data["asset_tag"]).strip()
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", value):
            raise forms.ValidationError("Letters, digits, '.', '_', '/' and '-' only.")
        return value

    def clean_end_of_support(self) -> dt.date | None:
        value = self.cleaned_data.get("end_of_support")
        if value is not None and not dt.date(1990, 1, 1) <= value <= dt.date(2100, 1, 1):
            raise forms.ValidationError("A date between 1990 and 2100.")
        return value


class LifecycleForm(forms.Form):
    state = forms.ChoiceField(
        choices=[
            (value, label)
            for value, label in Device.Lifecycle.choices
            # Leaving states need a sanitization certificate (facilities); lost and stolen
            # go through "report lost or stolen", which also ends the device's sessions.
            if value
            not in (
                Device.Lifecycle.SANITIZED,
                Device.Lifecycle.DISPOSED,
                Device.Lifecycle.LOST,
                Device.Lifecycle.STOLEN,
            )
        ]
    )
    reason = forms.CharField(max_length=500, required=False)


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=100)
    zone = forms.ChoiceField(choices=NetworkSegment.Zone.choices)
    vlan = forms.IntegerField(min_value=1, max_value=4094, required=False, label="VLAN")
    cidr = forms.CharField(max_length=64, required=False, label="CIDR", help_text="e.g. 10.21.0.0/24")
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_cidr(self) -> str:
        value = str(self.cleaned_data.get("cidr") or "").strip()
        if value:
            try:
                return str(ipaddress.ip_network(value, strict=False))
            except ValueError:
                raise forms.ValidationError("An IPv4 or IPv6 network, e.g. 10.21.0.0/24.") from None
        return value


INTERNET = "internet"


class FlowForm(forms.Form):
    source = forms.TypedChoiceField(coerce=int, label="From")
    destination = forms.ChoiceField(label="To", help_text="A segment, or the internet.")
    port = forms.IntegerField(min_value=0, max_value=65535, required=False, help_text="Empty: every port.")
    protocol = forms.ChoiceField(choices=SegmentFlow.Protocol.choices)
    purpose = forms.CharField(max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segments = [(str(s.pk), s.name) for s in NetworkSegment.objects.all()]
        self.fields["source"].choices = segments  # type: ignore[attr-defined]
        self.fields["destination"].choices = [*segments, (INTERNET, "internet")]  # type: ignore[attr-defined]

    def destination_id(self) -> int | None:
        value = self.cleaned_data["destination"]
        return None if value == INTERNET else int(value)


def owner_choices() -> list[tuple[str, str]]:
    return [
        (str(user.pk), f"{user.get_full_name() or user.username} ({user.username})")
        for user in users_list().filter(is_active=True)
    ]


class ControlForm(forms.Form):
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=CompensatingControl.Kind.choices)
    remediation = forms.ChoiceField(
        choices=CompensatingControl.Remediation.choices,
        help_text="HICP Table 12: interim mitigation expires within 30 days, vendor remediation within 60.",
    )
    owner = forms.TypedChoiceField(coerce=int)
    device = forms.CharField(max_length=64, required=False, label="Device asset tag",
                             help_text="Or leave empty and name a model fleet below.")  # fmt: skip
    manufacturer = forms.CharField(max_length=200, required=False)
    model = forms.CharField(max_length=200, required=False)
    description = forms.CharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    test = forms.ChoiceField(choices=CompensatingControl.Test.choices, label="Live test")
    test_segment = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Test: segment")
    test_port = forms.IntegerField(min_value=0, max_value=65535, required=False, label="Test: only port")
    test_protocol = forms.ChoiceField(
        choices=[("", "—"), *SegmentFlow.Protocol.choices], required=False, label="Test: protocol"
    )
    test_destination = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Test: to segment"
    )
    review_due = forms.DateField(help_text="YYYY-MM-DD")
    expires_on = forms.DateField(help_text="YYYY-MM-DD; at most 30 or 60 days ahead (HICP Table 12).")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_choices()  # type: ignore[attr-defined]
        self.fields["test_segment"].choices = segment_choices()  # type: ignore[attr-defined]
        self.fields["test_destination"].choices = segment_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("device") and not (data.get("manufacturer") and data.get("model")):
            raise forms.ValidationError("Name a device by asset tag, or a model by manufacturer and model.")
        if data.get("test") == CompensatingControl.Test.SEGMENT_ONLY_ALLOWS and (
            not data.get("test_segment") or not data.get("test_destination")
        ):
            raise forms.ValidationError("The segment test needs the segment and the segment it may reach.")
        return data


class EvidenceForm(forms.Form):
    file = forms.FileField()
    note = forms.CharField(max_length=300, required=False)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_EVIDENCE_BYTES:
            raise forms.ValidationError(f"At most {MAX_EVIDENCE_BYTES // (1024 * 1024)} MiB.")
        if upload.content_type not in EVIDENCE_TYPES:
            raise forms.ValidationError("A PNG or JPEG screenshot, a PDF, or a text or CSV file.")
        return upload


class UploadForm(forms.Form):
    file = forms.FileField()


class Mds2UploadForm(forms.Form):
    file = forms.FileField(
        help_text="The manufacturer's filled MDS2 (xlsx) or a CSV of Question ID, Answer, Note."
    )
    manufacturer = forms.CharField(max_length=200, required=False, help_text="Empty: read from DOC-1.")
    model = forms.CharField(max_length=200, required=False, help_text="Empty: read from DOC-3.")


def today() -> dt.date:
    return clock.now().date()

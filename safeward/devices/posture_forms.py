"""Forms of the posture pages."""

from __future__ import annotations

from django import forms

from safeward.devices.models import Device, PostureSource
from safeward.devices.posture import MAX_IMPORT_BYTES


class PostureImportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[("", "Recognise it"), *PostureSource.choices], required=False, label="Export format"
    )
    file = forms.FileField(label="MDM or agent export (Fleet JSON, Intune CSV, Jamf CSV)")

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB.")
        return upload


class ReportLostForm(forms.Form):
    state = forms.ChoiceField(
        choices=[(Device.Lifecycle.LOST, "Lost"), (Device.Lifecycle.STOLEN, "Stolen")],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What happened",
        help_text="Where and when it was last seen. No patient details.",
    )


class WipeConfirmForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="How you know it was wiped",
        help_text=(
            "What you saw: the MDM's action log, the device returned and erased at the desk. "
            "No patient details."
        ),
    )


class ClientLinkForm(forms.Form):
    """Link an OAuth client (a kiosk or shared-workstation app) to this device (ADR 1018)."""

    client_id = forms.ChoiceField(label="OAuth client")
    reason = forms.CharField(
        max_length=500, help_text="Why its credentials live on this device (ward, purpose)."
    )

    def __init__(self, *args: object, clients: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["client_id"].choices = [("", "Choose a client"), *clients]  # type: ignore[attr-defined]


class ClientUnlinkForm(forms.Form):
    client_id = forms.CharField(max_length=100)
    reason = forms.CharField(max_length=500)

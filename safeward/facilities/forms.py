from __future__ import annotations

from typing import Any

from django import forms

from safeward.clinical.types import VisitorPatient
from safeward.facilities.models import Area, Certificate, CustodyEvent, Medium, Site

# A patient's names are typed, never remembered by the browser.
_NO_AUTOCOMPLETE = forms.TextInput(attrs={"autocomplete": "off"})


class AreaForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.all())
    code = forms.CharField(max_length=40)
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=Area.Kind.choices)
    classification = forms.ChoiceField(choices=Area.Classification.choices)
    building = forms.CharField(max_length=80, required=False)
    floor = forms.CharField(max_length=20, required=False)
    room = forms.CharField(max_length=40, required=False)


class AuthoriseForm(forms.Form):
    position_code = forms.CharField(max_length=40, required=False, help_text="A position code, or:")
    person_id = forms.IntegerField(required=False, min_value=1, help_text="one person's workforce id.")
    weekdays = forms.CharField(max_length=27, initial="mon,tue,wed,thu,fri")
    start_time = forms.TimeField(initial="07:00")
    end_time = forms.TimeField(initial="19:00", help_text="Before the start: the window runs past midnight.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("position_code")) == (data.get("person_id") is not None):
            raise forms.ValidationError("Authorise either a position or one person.")
        return data


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV or JSON: credential_id, door, area, time (with offset), result, direction."
    )


class VisitorForm(forms.Form):
    """The desk's one form. A patient's visitor: type the patient's given and
    family names ("Find the patient" lists the inpatients by those names
    through the clinical gateway, or one match is taken at sign-in)."""

    name = forms.CharField(
        max_length=120, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"})
    )
    host = forms.CharField(max_length=120, required=False, help_text="Who they visit (empty for a patient).")
    patient_given_name = forms.CharField(
        max_length=120, required=False, label="Patient's given name", widget=_NO_AUTOCOMPLETE
    )
    patient_family_name = forms.CharField(
        max_length=120, required=False, label="Patient's family name", widget=_NO_AUTOCOMPLETE
    )
    purpose = forms.CharField(max_length=200, initial="Meeting")
    badge_number = forms.CharField(max_length=20)
    organisation = forms.CharField(max_length=120, required=False)
    areas = forms.CharField(max_length=200, required=False)
    escort = forms.CharField(
        max_length=120, required=False, help_text="Needed for a confidential patient's visitor."
    )
    expected_minutes = forms.IntegerField(min_value=5, max_value=24 * 60, initial=120)
    flagged_patient_visit = forms.BooleanField(
        required=False, label="Visiting a patient flagged VIP or restricted (the privacy officer is told)"
    )

    def __init__(self, *args: Any, patients: list[VisitorPatient] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patients = patients
        if patients:
            self.fields["patient"] = forms.ChoiceField(
                choices=[(p.id, _patient_label(p)) for p in patients],
                widget=forms.RadioSelect,
                required=False,
                label="Patient",
                help_text="The only match is taken if none is chosen." if len(patients) == 1 else "",
            )

    def patient_names(self) -> tuple[str, str]:
        return (
            str(self.data.get("patient_given_name") or "").strip(),
            str(self.data.get("patient_family_name") or "").strip(),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.patients is None:  # no patient names typed: a visit to staff
            data["patient_id"] = ""
            if not data.get("host"):
                self.add_error("host", "Name the person visited, or type the patient's names.")
            return data
        if not self.patients:
            raise forms.ValidationError("No inpatient by those names: check the spelling with the visitor.")
        chosen = data.get("patient") or (self.patients[0].id if len(self.patients) == 1 else "")
        if not chosen:
            self.add_error("patient", "Choose the patient.")
        data["patient_id"] = chosen
        return data

    def sign_in_data(self) -> dict[str, Any]:
        """The service's keyword arguments."""
        data = dict(self.cleaned_data)
        for name in ("patient", "patient_given_name", "patient_family_name"):
            data.pop(name, None)
        return data


def _patient_label(patient: VisitorPatient) -> str:
    where = (
        f"{patient.ward}, bed {patient.bed}"
        if patient.visiting_allowed
        else "confidential: the ward confirms, an escort is needed"
    )
    told = " (the privacy officer is told)" if patient.flagged else ""
    return f"{patient.display_name} — {where}{told}"


class CustodyForm(forms.Form):
    kind = forms.ChoiceField(choices=CustodyEvent.Kind.choices)
    device_id = forms.IntegerField(required=False, min_value=1)
    medium = forms.ModelChoiceField(queryset=Medium.objects.all(), required=False)
    holder_person_id = forms.IntegerField(required=False, min_value=1)
    location = forms.CharField(max_length=200, required=False)
    note = forms.CharField(max_length=300, required=False)


class CertificateForm(forms.Form):
    device_id = forms.IntegerField(required=False, min_value=1)
    medium = forms.ModelChoiceField(queryset=Medium.objects.filter(disposed_at__isnull=True), required=False)
    person_name = forms.CharField(max_length=120)
    person_title = forms.CharField(max_length=120)
    person_organisation = forms.CharField(max_length=120)
    person_location = forms.CharField(max_length=120)
    person_phone = forms.CharField(max_length=40)
    media_make = forms.CharField(max_length=120)
    media_model = forms.CharField(max_length=120)
    media_serial = forms.CharField(max_length=120)
    media_property_number = forms.CharField(max_length=64)
    media_type = forms.CharField(max_length=40, initial="SSD")
    media_source = forms.CharField(max_length=120)
    classification = forms.CharField(max_length=40, initial="Confidential (PHI)")
    backed_up = forms.BooleanField(required=False)
    backup_location = forms.CharField(max_length=200, required=False)
    method_type = forms.ChoiceField(choices=Certificate.MethodType.choices, initial="purge")
    method = forms.ChoiceField(choices=Certificate.Method.choices, initial="crypto_erase")
    tool = forms.CharField(max_length=120, initial="nwipe")
    tool_version = forms.CharField(max_length=40)
    verification = forms.ChoiceField(choices=Certificate.Verification.choices, initial="full")
    post_classification = forms.CharField(max_length=40, initial="Unclassified")
    destination = forms.ChoiceField(choices=Certificate.Destination.choices, initial="disposal")
    standard = forms.ChoiceField(choices=Certificate.Standard.choices, initial="800-88r1")
    pickup = forms.CharField(max_length=64, required=False, help_text="The recycler's pallet or pickup id.")
    evidence = forms.FileField(required=False, help_text="nwipe's PDF report or log (kept as its SHA-256).")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("device_id") is None) == (data.get("medium") is None):
            raise forms.ValidationError("Name either a device id or a medium.")
        return data


class DisposeForm(forms.Form):
    pickup = forms.CharField(max_length=64, required=False)


class WorkstationForm(forms.Form):
    asset_tag = forms.CharField(max_length=64, help_text="The device's asset tag in the inventory.")
    area = forms.ModelChoiceField(
        queryset=Area.objects.filter(secure=True), help_text="The secure area it sits in."
    )

    def clean(self) -> dict[str, Any]:
        from safeward.devices.selectors import device_by_tag

        data = super().clean() or {}
        tag = str(data.get("asset_tag") or "").strip()
        device = device_by_tag(asset_tag=tag) if tag else None
        if tag and device is None:
            self.add_error("asset_tag", "No device with that asset tag in the inventory.")
        elif device is not None and not device.ip_address:
            self.add_error(
                "asset_tag", "The device has no IP address in the inventory: its charts cannot be matched."
            )
        data["device_id"] = device.pk if device is not None else None
        return data

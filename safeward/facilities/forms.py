from __future__ import annotations

from typing import Any

from django import forms

from safeward.facilities.models import Area, Certificate, CustodyEvent, Medium, Site


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
    name = forms.CharField(
        max_length=120, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"})
    )
    host = forms.CharField(max_length=120, help_text="Who they visit (or 'patient visit').")
    purpose = forms.CharField(max_length=200, initial="Meeting")
    badge_number = forms.CharField(max_length=20)
    organisation = forms.CharField(max_length=120, required=False)
    areas = forms.CharField(max_length=200, required=False)
    escort = forms.CharField(max_length=120, required=False)
    expected_minutes = forms.IntegerField(min_value=5, max_value=24 * 60, initial=120)
    flagged_patient_visit = forms.BooleanField(
        required=False, label="Visiting a patient flagged VIP or restricted (the privacy officer is told)"
    )


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

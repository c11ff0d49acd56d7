from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from safeward.clinical.types import ADMINISTRATION_ROUTES
from safeward.continuity.models import Downtime, PaperEntry


class DowntimeDeclareForm(forms.Form):
    kind = forms.ChoiceField(choices=Downtime.Kind.choices)
    reason = forms.CharField(max_length=300, strip=True)

    def clean_reason(self) -> Any:
        reason = self.cleaned_data["reason"]
        if not reason:
            raise forms.ValidationError("Give the reason for the downtime.")
        return reason


class PaperEntryForm(forms.Form):
    downtime = forms.ModelChoiceField(queryset=Downtime.objects.none(), empty_label=None)
    encounter_number = forms.CharField(max_length=40, label="Downtime encounter number")
    kind = forms.ChoiceField(choices=PaperEntry.Kind.choices, label="What was recorded")
    occurred_at = forms.DateTimeField(
        label="Original time (as written on paper)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    performed_by = forms.CharField(max_length=150, label="Done by (username)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from safeward.continuity import selectors

        super().__init__(*args, **kwargs)
        field = self.fields["downtime"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors.downtimes_for_recovery()

    def clean_performed_by(self) -> Any:
        from safeward.identity.models import User

        username = self.cleaned_data["performed_by"].strip()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No active account has that username.")
        return user


class PaperChartForm(forms.Form):
    # Chosen from the MRN/name search's matches (a radio button), never typed (ADR 1416).
    patient_id = forms.CharField(max_length=36, label="Patient")
    encounter_id = forms.CharField(max_length=36, required=False, label="Encounter (chart id, optional)")
    text = forms.CharField(max_length=18_000, widget=forms.Textarea, label="What the paper says")


# The live chart's vital-sign choices (clinical.forms.VitalsForm): code, display, UCUM unit.
PAPER_VITALS = [
    ("8867-4", "Heart rate", "/min"),
    ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
    ("8310-5", "Body temperature", "Cel"),
    ("9279-1", "Respiratory rate", "/min"),
    ("59408-5", "Oxygen saturation", "%"),
    ("29463-7", "Body weight", "kg"),
]


class PaperVitalsForm(forms.Form):
    """Vital signs copied from the paper chart (ADR 1415): any of the live
    chart's measurements, at least one; the gateway checks each range."""

    patient_id = forms.CharField(max_length=36, label="Patient")
    encounter_id = forms.CharField(max_length=36, required=False, label="Encounter (chart id, optional)")
    confirmed = forms.BooleanField(
        required=False, label="I have checked the unusual values against the paper"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for number, (_code, display, unit) in enumerate(PAPER_VITALS):
            self.fields[f"vital_{number}"] = forms.DecimalField(
                label=f"{display} ({unit})", required=False, max_digits=7, decimal_places=2
            )

    def vitals(self) -> list[tuple[str, str, str, str]]:
        return [
            (code, display, str(self.cleaned_data[f"vital_{number}"]), unit)
            for number, (code, display, unit) in enumerate(PAPER_VITALS)
            if self.cleaned_data.get(f"vital_{number}") is not None
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and not self.vitals():
            raise forms.ValidationError("Give at least one measurement from the paper.")
        return cleaned


class PaperMarForm(forms.Form):
    """One dose copied from the paper MAR (ADR 1419): the order number the
    downtime kit printed beside the medication, the dose, its unit, the
    route. The gateway checks the order (this patient's, active, written
    before the dose)."""

    patient_id = forms.CharField(max_length=36, label="Patient")
    encounter_id = forms.CharField(max_length=36, required=False, label="Encounter (chart id, optional)")
    order = forms.CharField(max_length=36, label="Order number (from the downtime kit)")
    dose = forms.DecimalField(label="Dose", max_digits=9, decimal_places=3, min_value=Decimal("0.001"))
    dose_unit = forms.CharField(max_length=32, label="Unit (mg, g, mL, [iU]…)")
    route = forms.ChoiceField(label="Route", choices=ADMINISTRATION_ROUTES)

    def doses(self) -> list[tuple[str, str, str, str]]:
        data = self.cleaned_data
        return [(data["order"], str(data["dose"]), data["dose_unit"].strip(), data["route"])]


class PatientPickForm(forms.Form):
    """Find the patient a paper record belongs to (ADR 1416): by MRN, or by
    name with the date of birth, posted (never in a URL)."""

    mrn = forms.CharField(max_length=40, required=False, label="MRN")
    name = forms.CharField(max_length=200, required=False, label="Name")
    birth_date = forms.DateField(
        required=False, label="Date of birth", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            not self.errors
            and not (cleaned.get("mrn") or "").strip()
            and not (cleaned.get("name") or "").strip()
        ):
            raise forms.ValidationError("Give the MRN, or the name (with the date of birth).")
        return cleaned

"""Explicit forms for the clinical pages (plain `forms.Form`: the models are
the gateway's business). Every text field has a max length; every form that
creates something carries a one-time `submission` token."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms

from safeward import clock
from safeward.clinical import lab_catalog, uploads
from safeward.clinical.types import PatientInput, new_submission_token

SEX_CHOICES = [("female", "Female"), ("male", "Male"), ("other", "Other"), ("unknown", "Unknown")]
SENSITIVITY_CHOICES = [
    ("", "Not sensitive"),
    ("mental_health", "Mental health"),
    ("sud", "Substance use disorder (42 CFR Part 2)"),
    ("hiv", "HIV"),
    ("reproductive", "Reproductive health"),
]
NOTE_KINDS = [
    ("progress", "Progress note"),
    ("admission", "Admission note"),
    ("discharge", "Discharge summary"),
    ("nursing", "Nursing note"),
]
REASON_KINDS = [
    ("emergency_care", "Emergency care of a patient not assigned to me"),
    ("covering", "Covering for a colleague (on call)"),
    ("unconscious", "Patient unable to consent, urgent treatment"),
    ("other", "Other urgent clinical need"),
]


class DateInput(forms.DateInput):
    input_type = "date"


class SubmissionForm(forms.Form):
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)
    # Forms that share the chart page get their own element ids (unique ids, working labels).
    id_prefix = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if self.id_prefix:
            kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission", new_submission_token())


def show_field(form: forms.Form, name: str, widget: forms.Widget) -> None:
    """Show a field a form keeps hidden until a safety check asks for it
    (a confirmation, an override reason)."""
    form.fields[name].widget = widget


class SearchForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        required=False,
        help_text="Start of a given or family name, e.g. “smi jo” for Jo Smith.",
    )
    mrn = forms.CharField(label="Medical record number", max_length=40, required=False)
    birth_date = forms.DateField(label="Date of birth", required=False, widget=DateInput)
    national_id = forms.CharField(label="National ID", max_length=40, required=False)
    page = forms.IntegerField(min_value=1, max_value=10, required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(k) for k in ("name", "mrn", "birth_date", "national_id")) and not self.errors:
            raise forms.ValidationError("Give at least one search criterion.")
        return data


class DisclosureLookupForm(forms.Form):
    """Find the patient an accounting of disclosures is for: an MRN, or a
    name with the date of birth (a name alone would list strangers)."""

    mrn = forms.CharField(label="Medical record number", max_length=40, required=False)
    name = forms.CharField(
        label="Name", max_length=100, required=False, help_text="Given and family name, or the start of each."
    )
    birth_date = forms.DateField(label="Date of birth", required=False, widget=DateInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if not data.get("mrn") and not data.get("name"):
            raise forms.ValidationError("Enter the medical record number, or the name and date of birth.")
        if data.get("name") and not data.get("birth_date") and not data.get("mrn"):
            self.add_error("birth_date", "Add the date of birth: a name alone matches more than one person.")
        return data


def typed_address(data: dict[str, Any]) -> dict[str, Any]:
    """The address with the importer's keys from a registration form's cleaned
    data, every part as typed (the gateway's `normalised_address` stores it)."""
    return {
        "line": [data["address_line"]],
        "city": data["city"],
        "state": data["state"],
        "postal_code": data["postal_code"],
    }


class RegistrationForm(SubmissionForm):
    given_name = forms.CharField(label="Given name", max_length=200)
    family_name = forms.CharField(label="Family name", max_length=200)
    birth_date = forms.DateField(label="Date of birth", widget=DateInput)
    sex = forms.ChoiceField(label="Sex", choices=SEX_CHOICES, initial="unknown")
    phone = forms.CharField(label="Phone", max_length=40, required=False)
    email = forms.EmailField(label="E-mail", max_length=254, required=False)
    national_id = forms.CharField(label="National ID", max_length=40, required=False)
    address_line = forms.CharField(label="Street address", max_length=200, required=False)
    city = forms.CharField(label="City", max_length=100, required=False)
    state = forms.CharField(label="State or region", max_length=100, required=False)
    postal_code = forms.CharField(label="Postal code", max_length=20, required=False)
    insurer = forms.CharField(label="Insurer", max_length=100, required=False)
    member_id = forms.CharField(label="Insurance member ID", max_length=60, required=False)
    is_confidential = forms.BooleanField(label="Confidential patient (restricted record)", required=False)
    is_vip = forms.BooleanField(label="VIP / public figure", required=False)
    is_employee = forms.BooleanField(label="Hospital employee", required=False)
    # Shown (as a checkbox) only after registration found possible duplicates.
    confirm_not_duplicate = forms.BooleanField(
        label="None of these is the patient: register a new record", required=False, widget=forms.HiddenInput
    )

    def clean_birth_date(self) -> dt.date:
        value: dt.date = self.cleaned_data["birth_date"]
        if value > clock.now().date() or value.year < 1880:
            raise forms.ValidationError("Enter a real date of birth.")
        return value

    def patient_input(self) -> PatientInput:
        d = self.cleaned_data
        insurance = (
            {"payer": d["insurer"], "member_id": d["member_id"]} if d["insurer"] or d["member_id"] else None
        )
        return PatientInput(
            given_name=d["given_name"],
            family_name=d["family_name"],
            birth_date=d["birth_date"],
            sex=d["sex"],
            phone=d["phone"] or None,
            email=d["email"] or None,
            national_id=d["national_id"] or None,
            address=typed_address(d),  # the gateway drops the parts left empty
            insurance=insurance,
            is_confidential=d["is_confidential"],
            is_vip=d["is_vip"],
            is_employee=d["is_employee"],
        )


class NoteForm(SubmissionForm):
    kind = forms.ChoiceField(label="Kind", choices=NOTE_KINDS, initial="progress")
    title = forms.CharField(label="Title", max_length=200)
    text = forms.CharField(label="Note", max_length=20_000, widget=forms.Textarea(attrs={"rows": 8}))
    sensitivity = forms.ChoiceField(label="Sensitive category", choices=SENSITIVITY_CHOICES, required=False)


class ProblemForm(SubmissionForm):
    code = forms.CharField(label="ICD-10-CM code", max_length=10, help_text="e.g. E11.9")
    display = forms.CharField(label="Description", max_length=300)
    onset = forms.DateField(label="Onset", required=False, widget=DateInput)
    sensitivity = forms.ChoiceField(label="Sensitive category", choices=SENSITIVITY_CHOICES, required=False)


class AllergyForm(SubmissionForm):
    substance = forms.CharField(label="Substance", max_length=200)
    reaction = forms.CharField(label="Reaction", max_length=300, required=False)
    criticality = forms.ChoiceField(
        label="Criticality", choices=[("low", "Low"), ("high", "High"), ("unable", "Unable to assess")]
    )


class VitalsForm(SubmissionForm):
    VITALS = [
        ("8867-4|Heart rate|/min", "Heart rate (/min)"),
        ("8480-6|Systolic blood pressure|mm[Hg]", "Systolic blood pressure (mm[Hg])"),
        ("8462-4|Diastolic blood pressure|mm[Hg]", "Diastolic blood pressure (mm[Hg])"),
        ("8310-5|Body temperature|Cel", "Body temperature (Cel)"),
        ("9279-1|Respiratory rate|/min", "Respiratory rate (/min)"),
        ("59408-5|Oxygen saturation|%", "Oxygen saturation (%)"),
        ("29463-7|Body weight|kg", "Body weight (kg)"),
    ]
    vital = forms.ChoiceField(label="Measurement", choices=VITALS)
    value = forms.DecimalField(label="Value", max_digits=7, decimal_places=2)
    confirmed = forms.BooleanField(
        label="I have checked this value: save it", required=False, widget=forms.HiddenInput
    )


class MedicationForm(SubmissionForm):
    medication = forms.CharField(label="Medication", max_length=300)
    dosage = forms.CharField(label="Dosage", max_length=300, required=False)
    sensitivity = forms.ChoiceField(label="Sensitive category", choices=SENSITIVITY_CHOICES, required=False)
    # Shown only after an allergy warning: why the drug is ordered anyway.
    override_reason = forms.CharField(
        label="Reason to order despite the allergy",
        max_length=500,
        required=False,
        widget=forms.HiddenInput,
        help_text="Leave empty and change the medication to choose another drug.",
    )


class BreakGlassForm(forms.Form):
    reason_kind = forms.ChoiceField(label="Reason", choices=REASON_KINDS)
    justification = forms.CharField(
        label="Explain the emergency",
        min_length=10,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The privacy officer reviews every use. Do not write more about the patient than needed.",
    )


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision", choices=[("justified", "Justified"), ("unjustified", "Not justified")]
    )
    note = forms.CharField(label="Note", max_length=1000, required=False)


class ScheduleForm(forms.Form):
    department = forms.TypedChoiceField(label="Clinic", coerce=int)
    day = forms.DateField(label="Day", widget=DateInput)

    def __init__(self, *args: Any, departments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = departments  # type: ignore[attr-defined]


class BookForm(SubmissionForm):
    patient = forms.UUIDField(widget=forms.HiddenInput)
    slot = forms.UUIDField(widget=forms.HiddenInput)
    reason = forms.CharField(label="Reason for visit", max_length=500, required=False)


# --- documents, lab orders and results, encounters, restrictions ------------------------------
class DocumentForm(SubmissionForm):
    id_prefix = "document"
    title = forms.CharField(
        label="Document name", max_length=200, help_text="e.g. “Referral letter, cardiology”."
    )
    file = forms.FileField(
        label="File",
        help_text=(
            f"PDF, PNG, JPEG or plain text (.txt), at most {uploads.MAX_MEGABYTES} MiB. Stored encrypted."
        ),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".pdf,.png,.jpg,.jpeg,.txt,application/pdf,image/png,image/jpeg,text/plain"}
        ),
    )
    sensitivity = forms.ChoiceField(label="Sensitive category", choices=SENSITIVITY_CHOICES, required=False)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        try:
            self.content_type = uploads.check_upload(upload.name or "", upload.size or 0, upload)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return upload


class OrderForm(SubmissionForm):
    id_prefix = "order"
    test = forms.ChoiceField(
        label="Test", choices=[(t.code, t.label) for t in lab_catalog.CATALOG], help_text="LOINC-coded."
    )

    def lab_test(self) -> lab_catalog.LabTest:
        test = lab_catalog.lab_test(self.cleaned_data["test"])
        assert test is not None
        return test


class ResultForm(SubmissionForm):
    id_prefix = "result"
    value = forms.DecimalField(label="Result", max_digits=12, decimal_places=4)
    unit = forms.CharField(label="Unit (UCUM)", max_length=32)
    confirmed = forms.BooleanField(
        label="I have checked this value: save it", required=False, widget=forms.HiddenInput
    )


ENCOUNTER_KINDS = [
    ("emergency", "Emergency"),
    ("inpatient", "Inpatient admission"),
    ("outpatient", "Outpatient visit"),
]


class EncounterForm(SubmissionForm):
    id_prefix = "encounter"
    kind = forms.ChoiceField(label="Encounter kind", choices=ENCOUNTER_KINDS)
    department = forms.TypedChoiceField(label="Department", coerce=int)
    attending = forms.TypedChoiceField(label="Attending", coerce=int, required=False, empty_value=None)
    reason = forms.CharField(label="Reason for the encounter", max_length=500, required=False)

    def __init__(
        self,
        *args: Any,
        departments: list[tuple[int, str]],
        clinicians: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = departments  # type: ignore[attr-defined]
        self.fields["attending"].choices = [("", "— none yet —"), *clinicians]  # type: ignore[attr-defined]


RESTRICTION_KINDS = [
    ("exclude_user", "Do not disclose to a named person"),
    ("exclude_department", "Do not disclose to a department"),
    ("no_payer", "Do not disclose to the payer (patient pays out of pocket)"),
]


class RestrictionForm(SubmissionForm):
    id_prefix = "restriction"
    kind = forms.ChoiceField(label="Restriction", choices=RESTRICTION_KINDS)
    user = forms.TypedChoiceField(label="Person to exclude", coerce=int, required=False, empty_value=None)
    department = forms.TypedChoiceField(
        label="Department to exclude", coerce=int, required=False, empty_value=None
    )
    note = forms.CharField(
        label="How the patient asked",
        max_length=500,
        required=False,
        help_text=(
            "Why and how the patient asked (kept encrypted; shown only to those who manage restrictions)."
        ),
    )

    def __init__(
        self, *args: Any, staff: list[tuple[int, str]], departments: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", "—"), *staff]  # type: ignore[attr-defined]
        self.fields["department"].choices = [("", "—"), *departments]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == "exclude_user" and not data.get("user"):
            self.add_error("user", "Choose the person to keep out of the record.")
        if kind == "exclude_department" and not data.get("department"):
            self.add_error("department", "Choose the department to keep out of the record.")
        if kind == "no_payer" and (data.get("user") or data.get("department")):
            raise forms.ValidationError("A payer restriction names no person or department.")
        if kind == "exclude_user" and data.get("department"):
            self.add_error("department", "Leave the department empty when excluding a person.")
        if kind == "exclude_department" and data.get("user"):
            self.add_error("user", "Leave the person empty when excluding a department.")
        return data


# --- corrections, amendments and pharmacist verification (issue 12) ---------------------------
class AmendmentChoiceForm(SubmissionForm):
    """A correction may answer one of the patient's pending amendment requests."""

    amendment_request = forms.ChoiceField(
        label="In answer to the patient's amendment request", required=False
    )

    def __init__(self, *args: Any, pending: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if pending:
            self.fields["amendment_request"].choices = [("", "— none —"), *pending]  # type: ignore[attr-defined]
        else:
            del self.fields["amendment_request"]


class DemographicsForm(AmendmentChoiceForm, RegistrationForm):
    reason = forms.CharField(label="Reason for the correction", max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["confirm_not_duplicate"]


class NoteAmendForm(AmendmentChoiceForm):
    title = forms.CharField(label="Title", max_length=200)
    text = forms.CharField(label="Note", max_length=20_000, widget=forms.Textarea(attrs={"rows": 10}))
    reason = forms.CharField(
        label="Reason for the amendment",
        max_length=500,
        help_text="The earlier version stays in the record and is shown with this one.",
    )


class ResultCorrectionForm(AmendmentChoiceForm):
    value = forms.DecimalField(label="Corrected result", max_digits=12, decimal_places=4)
    unit = forms.CharField(label="Unit (UCUM)", max_length=32)
    reason = forms.CharField(label="Reason for the correction", max_length=500)
    confirmed = forms.BooleanField(
        label="I have checked this value: save it", required=False, widget=forms.HiddenInput
    )


class DiscontinueForm(SubmissionForm):
    reason = forms.CharField(label="Reason to stop", max_length=500)


class ProblemStatusForm(SubmissionForm):
    status = forms.ChoiceField(
        label="New status", choices=[("resolved", "Resolved"), ("inactive", "Inactive"), ("active", "Active")]
    )
    reason = forms.CharField(label="Reason", max_length=500, required=False)


class AllergyStatusForm(SubmissionForm):
    status = forms.ChoiceField(
        label="New status",
        choices=[
            ("inactive", "Inactive"),
            ("resolved", "Resolved"),
            ("entered-in-error", "Entered in error"),
            ("active", "Active"),
        ],
    )
    reason = forms.CharField(
        label="Reason", max_length=500, required=False, help_text="Required when the entry was made in error."
    )


class AmendmentRequestForm(SubmissionForm):
    id_prefix = "amendment"
    request = forms.CharField(
        label="What the patient asks to amend, and why",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class AmendmentDenyForm(SubmissionForm):
    reason = forms.CharField(
        label="Reason for the denial", max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    disagreement = forms.CharField(
        label="The patient's statement of disagreement (if already given)",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DisagreementForm(SubmissionForm):
    statement = forms.CharField(
        label="The patient's statement of disagreement",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class VerifyForm(SubmissionForm):
    outcome = forms.ChoiceField(
        label="Decision", choices=[("verified", "Verify"), ("queried", "Query back to the prescriber")]
    )
    note = forms.CharField(
        label="Query to the prescriber", max_length=1000, required=False, help_text="Required for a query."
    )


class AdmitForm(SubmissionForm):
    """Admit to a bed: the bed, the attending physician, the admitting nurse."""

    id_prefix = "admit"
    # Any bed id: the gateway refuses a taken or unknown bed (a resubmitted
    # form then says why, instead of "not one of the choices").
    bed = forms.CharField(label="Bed", widget=forms.Select)
    attending = forms.TypedChoiceField(label="Attending physician", coerce=int)
    nurse = forms.TypedChoiceField(
        label="Admitting nurse",
        coerce=int,
        required=False,
        empty_value=None,
        help_text="Leave empty if you are the nurse.",
    )
    reason = forms.CharField(label="Reason for admission", max_length=500, required=False)

    def __init__(
        self,
        *args: Any,
        beds: list[tuple[str, str]],
        physicians: list[tuple[int, str]],
        nurses: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["bed"].widget.choices = [("", "— choose a free bed —"), *beds]
        self.fields["attending"].choices = [("", "— choose —"), *physicians]  # type: ignore[attr-defined]
        self.fields["nurse"].choices = [("", "— me / none —"), *nurses]  # type: ignore[attr-defined]


class TransferForm(SubmissionForm):
    id_prefix = "transfer"
    bed = forms.CharField(label="Move to bed", widget=forms.Select)

    def __init__(self, *args: Any, beds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["bed"].widget.choices = [("", "— choose a free bed —"), *beds]


MAX_BED_RANGE = 200


def bed_labels(spec: str) -> list[str]:
    """ "1-12" → 01…12; "A,B,C" → A, B, C; both may be mixed: "1-4,side".
    A range backwards or of more than MAX_BED_RANGE beds is a ValueError."""
    labels: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        match = re.fullmatch(r"(\d+)-(\d+)", part)
        if match:
            first, last = int(match[1]), int(match[2])
            if last < first or last - first >= MAX_BED_RANGE:
                raise ValueError(
                    f"Bed range {part!r}: give first-last with at most {MAX_BED_RANGE} beds, e.g. 1-12."
                )
            width = len(match[2])
            labels += [f"{n:0{width}d}" for n in range(first, last + 1)]
        elif part:
            labels.append(part)
    return labels


class BedLabelsField(forms.CharField):
    """Bed labels as the operator types them ("1-12", "A,B", "1-4,side")."""

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)  # required and max_length, on the text as typed
        try:
            return bed_labels(text or "")
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class WardForm(forms.Form):
    """A new ward: its clinical department, code, name and beds."""

    # Any department id: the gateway refuses a non-clinical one with its reason.
    department = forms.IntegerField(label="Department", widget=forms.Select)
    code = forms.SlugField(label="Code", max_length=32, help_text="Short and unique, e.g. med-3.")
    name = forms.CharField(label="Name", max_length=120, help_text="e.g. Medicine ward 3.")
    beds = BedLabelsField(
        label="Beds", max_length=2000, help_text='A range "1-12", a list "A,B", or both: "1-10,side".'
    )

    def __init__(self, *args: Any, departments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].widget.choices = [("", "— choose a clinical department —"), *departments]


class WardEditForm(forms.Form):
    """Rename a ward, add beds, remove beds no patient ever lay in."""

    name = forms.CharField(label="Name", max_length=120)
    add_beds = BedLabelsField(
        label="Add beds", max_length=2000, required=False, help_text='e.g. "13-16" or "side-room".'
    )
    remove_beds = forms.MultipleChoiceField(
        label="Remove beds",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only beds no patient has lain in can be removed; the others stay for the record.",
    )

    def __init__(self, *args: Any, removable: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["remove_beds"].choices = removable  # type: ignore[attr-defined]

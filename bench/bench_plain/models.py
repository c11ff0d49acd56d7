"""Unmanaged twins of the clinical models over bench_plain_<model>: every
plain column as in the product, every encrypted column as nullable text
(the plaintext; JSON text for the JSON fields, ISO text for dates), no
blind-index columns. Foreign keys to other clinical models point at the
twins, foreign keys to identity stay (the same joins as the gateway's
queries). bench/clinical_chart.py checks at
start-up that the ORM baseline discloses what the gateway discloses.

Bench tooling, not the product (the one-door rule covers safeward/)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


def _text() -> models.TextField[str | None, str | None]:
    return models.TextField(null=True)


def _fk(to: str, *, null: bool = False) -> models.ForeignKey[models.Model, models.Model]:
    return models.ForeignKey(
        to, on_delete=models.DO_NOTHING, null=null, related_name="+", db_constraint=False
    )


class Plain(models.Model):
    id = models.UUIDField(primary_key=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class PlainPatient(Plain):
    mrn = _text()
    given_name = _text()
    family_name = _text()
    birth_date = _text()
    sex = models.CharField(max_length=8)
    gender_identity = _text()
    national_id = _text()
    address = _text()
    phone = _text()
    email = _text()
    insurance = _text()
    is_employee = models.BooleanField()
    is_vip = models.BooleanField()
    is_confidential = models.BooleanField()
    deceased = models.BooleanField()
    deceased_date = _text()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bench_plain_patient"


class PlainEncounter(Plain):
    patient = _fk("bench_plain.PlainPatient")
    kind = models.CharField(max_length=12)
    department = _fk("identity.Department")
    attending = _fk(USER, null=True)
    status = models.CharField(max_length=12)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    reason = _text()
    sensitivity = models.CharField(max_length=16)

    class Meta:
        managed = False
        db_table = "bench_plain_encounter"


class PlainCareTeamMembership(Plain):
    patient = _fk("bench_plain.PlainPatient")
    user = _fk(USER)
    role = models.CharField(max_length=40)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "bench_plain_careteammembership"


class PlainAppointment(Plain):
    patient = _fk("bench_plain.PlainPatient")
    slot_id = models.UUIDField()
    department = _fk("identity.Department")
    clinician = _fk(USER, null=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12)
    reason = _text()
    encounter = _fk("bench_plain.PlainEncounter", null=True)
    booked_by = _fk(USER, null=True)
    booked_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bench_plain_appointment"


class PlainClinicalNote(Plain):
    patient = _fk("bench_plain.PlainPatient")
    encounter = _fk("bench_plain.PlainEncounter", null=True)
    author = _fk(USER, null=True)
    kind = models.CharField(max_length=12)
    title = _text()
    text = _text()
    sensitivity = models.CharField(max_length=16)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bench_plain_clinicalnote"


class PlainCondition(Plain):
    patient = _fk("bench_plain.PlainPatient")
    encounter = _fk("bench_plain.PlainEncounter", null=True)
    code_system = models.CharField(max_length=8)
    code = _text()
    display = _text()
    clinical_status = models.CharField(max_length=10)
    onset = _text()
    sensitivity = models.CharField(max_length=16)
    recorded_at = models.DateTimeField()
    recorded_by = _fk(USER, null=True)

    class Meta:
        managed = False
        db_table = "bench_plain_condition"


class PlainAllergyIntolerance(Plain):
    patient = _fk("bench_plain.PlainPatient")
    substance = _text()
    reaction = _text()
    criticality = models.CharField(max_length=8)
    clinical_status = models.CharField(max_length=10)
    recorded_at = models.DateTimeField()
    recorded_by = _fk(USER, null=True)

    class Meta:
        managed = False
        db_table = "bench_plain_allergyintolerance"


class PlainMedicationRequest(Plain):
    patient = _fk("bench_plain.PlainPatient")
    encounter = _fk("bench_plain.PlainEncounter", null=True)
    medication = _text()
    rxnorm = _text()
    dosage = _text()
    status = models.CharField(max_length=10)
    sensitivity = models.CharField(max_length=16)
    authored_at = models.DateTimeField()
    requester = _fk(USER, null=True)

    class Meta:
        managed = False
        db_table = "bench_plain_medicationrequest"


class PlainObservation(Plain):
    patient = _fk("bench_plain.PlainPatient")
    encounter = _fk("bench_plain.PlainEncounter", null=True)
    category = models.CharField(max_length=12)
    status = models.CharField(max_length=12)
    code = _text()
    display = _text()
    value = _text()
    unit = models.CharField(max_length=32)
    effective_at = models.DateTimeField()
    sensitivity = models.CharField(max_length=16)
    recorded_by = _fk(USER, null=True)

    class Meta:
        managed = False
        db_table = "bench_plain_observation"


class PlainDocument(Plain):
    patient = _fk("bench_plain.PlainPatient")
    encounter = _fk("bench_plain.PlainEncounter", null=True)
    title = _text()
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sensitivity = models.CharField(max_length=16)
    created_at = models.DateTimeField()
    author = _fk(USER, null=True)

    class Meta:
        managed = False
        db_table = "bench_plain_document"


PLAIN: dict[str, type[models.Model]] = {
    "Patient": PlainPatient,
    "Encounter": PlainEncounter,
    "ClinicalNote": PlainClinicalNote,
    "Condition": PlainCondition,
    "MedicationRequest": PlainMedicationRequest,
    "AllergyIntolerance": PlainAllergyIntolerance,
    "Observation": PlainObservation,
    "Appointment": PlainAppointment,
    "Document": PlainDocument,
    "CareTeamMembership": PlainCareTeamMembership,
}

"""The downtime kit's read: one ward's census with what a nurse needs on
paper when SafeWard is down (issue 19, after Epic's Business Continuity
Access reports).

`downtime_kit` is the one read a system actor may make, and only this one:
the continuity app's scheduled kit writer (`safeward continuity kits`) calls
it as `SystemActor("continuity.kits")` for each ward, encrypts the PDF to the
ward's downtime workstation and never keeps the plaintext. A person calling
it is refused (a denied event): people read charts through the chart pages.
Each call is audited as one bulk disclosure (action `disclose`,
resource `DowntimeKit`) naming every patient in the kit, so each patient's
accounting of disclosures shows it.

Code status is not a recorded field in SafeWard yet: the kit says "not
recorded". "Orders" are today's medication orders (the only order kind the
chart keeps with a time of its own)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import (
    Actor,
    audit_fields,
    parse_id,
    plain,
    record,
    record_denied,
    user_label,
)
from safeward.clinical.gateway._late_entries import order_reference
from safeward.clinical.models import (
    AllergyIntolerance,
    Appointment,
    Bed,
    BedOccupancy,
    Condition,
    MedicationRequest,
    Ward,
)
from safeward.clinical.policy import Section
from safeward.clinical.types import NotFound, SystemActor
from safeward.one_door import entry

KIT_ACTOR = "continuity.kits"


@dataclass(frozen=True)
class KitPatient:
    bed: str
    patient_id: str
    name: str
    mrn: str
    birth_date: dt.date | None
    sex: str
    admitted_at: dt.datetime | None
    attending: str
    code_status: str
    allergies: list[str]
    medications: list[str]
    problems: list[str]
    appointments_today: list[str]
    orders_today: list[str]


@dataclass(frozen=True)
class DowntimeKitData:
    ward_id: str
    ward_code: str
    ward_name: str
    department: str
    department_id: int
    beds: int
    generated_at: dt.datetime
    patients: list[KitPatient]


def _today(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


@entry
def downtime_kit(*, actor: Actor, ward_id: str | uuid.UUID) -> DowntimeKitData:
    """A ward's downtime kit data, for the scheduled kit writer only."""
    wid = parse_id(ward_id)
    if not (isinstance(actor, SystemActor) and actor.name == KIT_ACTOR):
        record_denied(
            action=AuditAction.DISCLOSE,
            actor=actor,
            purpose=PurposeOfUse.OPERATIONS,
            resource_type="DowntimeKit",
            resource_id=str(wid),
            patient=None,
            reason="only the scheduled downtime kit writer reads kits",
        )
        raise NotFound
    ward = Ward.objects.select_related("department").filter(pk=wid).first()
    if ward is None:
        raise NotFound
    now = clock.now()
    start, end = _today(now)
    beds = {b.pk: b.label for b in Bed.objects.filter(ward=ward)}
    stays = list(
        BedOccupancy.objects.filter(bed__ward=ward, current=True).select_related(
            "patient", "encounter", "encounter__attending", "bed"
        )
    )
    patients = []
    for stay in sorted(stays, key=lambda s: s.bed.label):
        patient = stay.patient
        allergies = [
            f"{plain(a, 'substance')} ({a.get_criticality_display().lower()})"
            + (f": {plain(a, 'reaction')}" if a.reaction is not None else "")
            for a in AllergyIntolerance.objects.filter(patient=patient, clinical_status="active")
        ]
        medications = []
        orders_today = []
        for med in MedicationRequest.objects.filter(patient=patient, status="active"):
            line = plain(med, "medication") + (f", {plain(med, 'dosage')}" if med.dosage is not None else "")
            # The paper MAR copies the order number; paper_mar_chart finds the order by it.
            line += f" (order {order_reference(med.pk)})"
            medications.append(line)
            authored = plain(med, "authored_at")
            if authored is not None and start <= authored < end:
                orders_today.append(line)
        problems = [
            f"{plain(c, 'display')} ({plain(c, 'code')})"
            for c in Condition.objects.filter(patient=patient, clinical_status="active")
        ]
        appointments = [
            f"{timezone.localtime(a.starts_at):%H:%M} {a.department.name}"
            for a in Appointment.objects.filter(patient=patient, starts_at__gte=start, starts_at__lt=end)
            .select_related("department")
            .order_by("starts_at")
        ]
        patients.append(
            KitPatient(
                bed=beds.get(stay.bed_id, ""),
                patient_id=str(patient.pk),
                name=f"{plain(patient, 'family_name')}, {plain(patient, 'given_name')}",
                mrn=plain(patient, "mrn"),
                birth_date=plain(patient, "birth_date"),
                sex=patient.get_sex_display(),
                admitted_at=plain(stay.encounter, "started_at"),
                attending=user_label(stay.encounter.attending),
                code_status="not recorded",
                allergies=sorted(allergies),
                medications=sorted(medications),
                problems=sorted(problems),
                appointments_today=appointments,
                orders_today=sorted(orders_today),
            )
        )
    with transaction.atomic():
        record(
            action=AuditAction.DISCLOSE,
            actor=actor,
            purpose=PurposeOfUse.OPERATIONS,
            resource_type="DowntimeKit",
            resource_id=str(ward.pk),
            fields=audit_fields(
                [
                    Section.DEMOGRAPHICS,
                    Section.ENCOUNTERS,
                    Section.ALLERGIES,
                    Section.MEDICATIONS,
                    Section.PROBLEMS,
                    Section.APPOINTMENTS,
                    Section.ORDERS,
                ]
            ),
            detail={"beds": len(beds), "occupied": len(stays), "recipient": f"ward:{ward.code}"},
            patient_ids=[p.patient_id for p in patients],
        )
    return DowntimeKitData(
        ward_id=str(ward.pk),
        ward_code=ward.code,
        ward_name=ward.name,
        department=ward.department.name,
        department_id=ward.department_id,
        beds=len(beds),
        generated_at=now,
        patients=patients,
    )

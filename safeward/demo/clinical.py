"""The demo hospital's clinical data: a few hundred synthetic patients
(Faker, fixed seed) with encounters and charts, the demo clinicians on care
teams, clinic slots with appointments today, and the special records a
privacy programme watches: a VIP, an employee, a confidential patient and a
canary record nobody has a reason to open.

Everything goes through the gateway with a system actor, so it is encrypted
and audited like any other write. Idempotent: patients have fixed MRNs
(`DEMO-00001`...) and a patient that exists already is left alone."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import (
    Conflict,
    ImportedAllergy,
    ImportedCondition,
    ImportedEncounter,
    ImportedImmunization,
    ImportedMedication,
    ImportedObservation,
    ImportedPatient,
    ImportedProcedure,
    ImportedReport,
    InvalidInput,
    PatientInput,
    SessionContext,
    SystemActor,
)

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

SEED = 5005
PATIENTS = 300
SEEDER = SystemActor("demo-seed")

# (ICD-10-CM, display, sensitivity)
CONDITIONS = [
    ("I10", "Essential (primary) hypertension", ""),
    ("E11.9", "Type 2 diabetes mellitus without complications", ""),
    ("J45.909", "Unspecified asthma, uncomplicated", ""),
    ("E78.5", "Hyperlipidemia, unspecified", ""),
    ("M54.50", "Low back pain, unspecified", ""),
    ("N18.3", "Chronic kidney disease, stage 3", ""),
    ("J44.9", "Chronic obstructive pulmonary disease, unspecified", ""),
    ("F32.9", "Major depressive disorder, single episode, unspecified", "mental_health"),
    ("F41.1", "Generalized anxiety disorder", "mental_health"),
    ("F10.20", "Alcohol dependence, uncomplicated", "sud"),
    ("F11.20", "Opioid dependence, uncomplicated", "sud"),
    ("B20", "Human immunodeficiency virus [HIV] disease", "hiv"),
    ("Z30.011", "Encounter for initial prescription of contraceptive pills", "reproductive"),
]
MEDICATIONS = [
    ("197361", "Amlodipine 5 MG Oral Tablet", ""),
    ("860975", "Metformin 500 MG Oral Tablet", ""),
    ("314076", "Lisinopril 10 MG Oral Tablet", ""),
    ("617312", "Atorvastatin 20 MG Oral Tablet", ""),
    ("351137", "Albuterol 0.09 MG/ACTUAT Inhaler", ""),
    ("312938", "Sertraline 50 MG Oral Tablet", "mental_health"),
    ("1010600", "Buprenorphine 2 MG / Naloxone 0.5 MG Sublingual Tablet", "sud"),
]
# Picked by patient number, not drawn from Faker: a further draw would shift
# every later name and date the fixed seed gives (and the demo's known patients).
DEMO_STATES = ("Massachusetts", "New Hampshire", "Rhode Island", "Connecticut", "Vermont", "Maine")
ALLERGENS = ["Penicillin", "Peanuts", "Latex", "Sulfonamides", "Shellfish", "Aspirin", "Bee venom"]
# (LOINC, display, UCUM, low, high, category)
MEASUREMENTS = [
    ("8867-4", "Heart rate", "/min", 55, 110, "vital-signs"),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 100, 170, "vital-signs"),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 60, 100, "vital-signs"),
    ("8310-5", "Body temperature", "Cel", 36.1, 38.9, "vital-signs"),
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 70, 220, "laboratory"),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 2.4, "laboratory"),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 9.5, 16.5, "laboratory"),
]
# (CVX, vaccine): a yearly influenza vaccine, and some of these once.
INFLUENZA = ("140", "Influenza, seasonal, injectable, preservative free")
VACCINES = [
    ("113", "Td (adult) preservative free"),
    ("133", "Pneumococcal conjugate PCV 13"),
    ("121", "Zoster vaccine, live"),
    ("208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose"),
]
# (SNOMED CT, display, reason, sensitivity)
PROCEDURES = [
    ("73761001", "Colonoscopy", "Screening for malignant neoplasm of colon", ""),
    ("80146002", "Appendectomy", "Acute appendicitis", ""),
    ("76164006", "Biopsy of colon", "Polyp of colon", ""),
    ("430193006", "Medication reconciliation", None, ""),
    ("171207006", "Depression screening", None, "mental_health"),
]
# (LOINC, report, the MEASUREMENTS codes it groups)
REPORTS = [
    ("51990-0", "Basic metabolic panel - Blood", ("2339-0", "2160-0")),
    ("58410-2", "Complete blood count (hemogram) panel - Blood by Automated count", ("718-7",)),
]
VIP, EMPLOYEE, CONFIDENTIAL = 1, 2, 3
CANARY = 4  # DEMO-00004: confidential, no care relationship, ever; any access is suspicious
CANARY_LABEL = "demo decoy DEMO-00004"


def _mrn(number: int) -> str:
    return f"DEMO-{number:05d}"


def _record(number: int, fake: Any, rng: random.Random, now: dt.datetime) -> ImportedPatient:
    sex = rng.choice(["female", "male"])
    given = fake.first_name_female() if sex == "female" else fake.first_name_male()
    birth = fake.date_of_birth(minimum_age=1, maximum_age=95)
    encounters = []
    for i in range(rng.randint(1, 4)):
        start = now - dt.timedelta(days=rng.randint(20, 1500), hours=rng.randint(0, 12))
        encounters.append(
            ImportedEncounter(
                key=f"e{i}",
                kind=rng.choice(["outpatient", "outpatient", "emergency", "inpatient"]),
                status="finished",
                started_at=start,
                ended_at=start + dt.timedelta(hours=rng.randint(1, 72)),
                reason=rng.choice(["Check-up", "Chest pain", "Shortness of breath", "Follow-up", "Fall"]),
            )
        )
    conditions = [
        ImportedCondition(
            code_system="icd10cm",
            code=code,
            display=display,
            clinical_status=rng.choice(["active", "active", "resolved"]),
            onset=(now - dt.timedelta(days=rng.randint(100, 5000))).date(),
            recorded_at=encounters[0].started_at,
            encounter_key="e0",
            sensitivity=sensitivity,
        )
        for code, display, sensitivity in rng.sample(CONDITIONS, rng.randint(0, 3))
    ]
    observations = []
    for code, display, unit, low, high, category in MEASUREMENTS:
        for encounter in encounters:
            value = rng.uniform(low, high)
            observations.append(
                ImportedObservation(
                    category=category,
                    status="final",
                    code=code,
                    display=display,
                    value=f"{value:.1f}" if high < 50 else f"{value:.0f}",
                    unit=unit,
                    effective_at=encounter.started_at + dt.timedelta(minutes=30),
                    encounter_key=encounter.key,
                    source_key=f"{encounter.key}/{code}",
                )
            )
    medications = [
        ImportedMedication(
            medication=display,
            rxnorm=code,
            status=rng.choice(["active", "active", "completed"]),
            authored_at=encounters[-1].started_at,
            encounter_key=encounters[-1].key,
            sensitivity=sensitivity,
        )
        for code, display, sensitivity in rng.sample(MEDICATIONS, rng.randint(0, 2))
    ]
    allergies = [
        ImportedAllergy(
            substance=substance,
            criticality=rng.choice(["low", "high"]),
            clinical_status="active",
            recorded_at=encounters[0].started_at,
        )
        for substance in rng.sample(ALLERGENS, rng.choice([0, 0, 1, 2]))
    ]
    phone = f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
    return ImportedPatient(
        patient=PatientInput(
            given_name=given,
            family_name=fake.last_name(),
            birth_date=birth,
            sex=sex,
            mrn=_mrn(number),
            national_id=f"999-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            phone=phone,
            email=f"patient{number}@example.invalid",
            address={
                "line": [fake.street_address()],
                "city": fake.city(),
                "state": DEMO_STATES[number % len(DEMO_STATES)],
                "postal_code": fake.postcode(),
                "country": "US",
            },
            insurance={
                "payer": rng.choice(["Acme Health", "Blue Demo", "Medicare"]),
                "member_id": f"M{number:07d}",
            },
            is_vip=number == VIP,
            is_employee=number == EMPLOYEE,
            is_confidential=number in (CONFIDENTIAL, CANARY),
        ),
        encounters=encounters,
        conditions=conditions,
        observations=observations,
        medications=medications,
        allergies=allergies,
        **_history(number, encounters, now),
    )


def _history(number: int, encounters: list[ImportedEncounter], now: dt.datetime) -> dict[str, Any]:
    """Immunizations, procedures and the reports of each encounter's labs
    (issue 12). Their own generator per patient, so the rest of the demo
    data stays what it was."""
    rng = random.Random(SEED * 100_000 + number)  # noqa: S311 - synthetic demo data, not a secret
    immunizations = [
        ImportedImmunization(
            status="completed",
            vaccine_code=code,
            vaccine=vaccine,
            occurred_at=now - dt.timedelta(days=365 * years + rng.randint(20, 120)),
            encounter_key=None,
        )
        for years, (code, vaccine) in [
            *((year, INFLUENZA) for year in range(rng.randint(1, 3))),
            *((rng.randint(1, 8), other) for other in rng.sample(VACCINES, rng.randint(0, 2))),
        ]
    ]
    procedures = []
    for code, display, reason, sensitivity in rng.sample(PROCEDURES, rng.choice([0, 1, 1, 2])):
        encounter = rng.choice(encounters)
        procedures.append(
            ImportedProcedure(
                status="completed",
                code=code,
                display=display,
                performed_at=encounter.started_at + dt.timedelta(hours=1),
                performed_end=encounter.started_at + dt.timedelta(hours=2),
                reason=reason,
                encounter_key=encounter.key,
                sensitivity=sensitivity,
            )
        )
    reports = [
        ImportedReport(
            status="final",
            category="LAB",
            code=code,
            display=display,
            effective_at=encounter.started_at + dt.timedelta(minutes=30),
            issued_at=encounter.started_at + dt.timedelta(hours=3),
            conclusion=None,
            result_keys=tuple(f"{encounter.key}/{result}" for result in results),
            encounter_key=encounter.key,
        )
        for encounter in encounters
        for code, display, results in REPORTS
    ]
    return {"immunizations": immunizations, "procedures": procedures, "reports": reports}


def demo_patient_count() -> int:
    """SAFEWARD_DEMO_PATIENTS (default 300); the test settings use fewer."""
    from safeward.config import env

    return env.integer("SAFEWARD_DEMO_PATIENTS", PATIENTS, minimum=0, maximum=5000)


def seed_clinical(ctx: SeedContext, *, patients: int | None = None) -> None:
    """The clinical seed step (registered in safeward.demo.seed.SEED_STEPS)."""
    from faker import Faker

    patients = demo_patient_count() if patients is None else patients
    from safeward.identity.models import User

    fake = Faker("en_US")
    fake.seed_instance(SEED)
    rng = random.Random(SEED)  # noqa: S311 - synthetic demo data, not a secret
    now = clock.now()
    system = SessionContext.system()
    staff = {credential.role: user for credential, user in ctx.credentials}
    physician: User | None = staff.get("physician")
    nurse: User | None = staff.get("nurse")
    departments = ctx.departments
    created = []
    for number in range(1, patients + 1):
        record = _record(number, fake, rng, now)
        outcome = gateway.patient_import(actor=SEEDER, session=system, record_in=record)
        if outcome.created and outcome.patient_id:
            created.append((number, outcome.patient_id))
    for number, patient_id in created:
        if number == CANARY:
            _canary_register(patient_id)
            continue  # the canary: nobody cares for it
        if physician is not None and number % 10 in (1, 2, 5):
            gateway.care_team_add(
                actor=SEEDER,
                session=system,
                purpose=PurposeOfUse.OPERATIONS,
                patient_id=patient_id,
                user_id=physician.pk,
                role="Attending physician",
            )
            gateway.note_create(
                actor=SEEDER,
                session=system,
                purpose=PurposeOfUse.OPERATIONS,
                patient_id=patient_id,
                title="Clinic review",
                text="Seen in clinic. Observations stable; continue current plan and review in three months.",
            )
        if nurse is not None and number % 10 == 3 and "emergency" in departments:
            gateway.encounter_start(
                actor=SEEDER,
                session=system,
                purpose=PurposeOfUse.OPERATIONS,
                patient_id=patient_id,
                kind="emergency",
                department_id=departments["emergency"].pk,
                attending_id=physician.pk if physician is not None else None,
                reason="Arrived by ambulance",
            )
    _seed_clinic(ctx, created, physician, now)
    _seed_wards(ctx, created, physician, nurse)
    _seed_lab_orders(created, physician)
    _seed_chart_safety(dict(created))
    ctx.write(f"clinical: {patients} demo patients ({len(created)} new)")


# (department code, ward code, name, beds): the demo hospital's inpatient units.
WARDS = [
    ("emergency", "ed-obs", "Emergency observation unit", 6),
    ("internal-medicine", "med-3", "Medicine ward 3", 12),
    ("surgery", "surg-2", "Surgical ward 2", 8),
]
ADMITTED = 7  # patients numbered …7 are admitted (DEMO-00007, DEMO-00017, …)
# They came in overnight, before this morning's downtime on the observation
# unit (safeward.demo.continuity), so the doses given then on paper fall
# within their stay.
ADMITTED_AGO = dt.timedelta(hours=12)


def _seed_wards(ctx: SeedContext, created: list[tuple[int, str]], physician: Any, nurse: Any) -> None:
    """Wards with beds, and inpatients in them under the demo physician (the
    demo nurse admits the ones in her department's unit)."""
    wards = []
    for department_code, code, name, beds in WARDS:
        department = ctx.departments.get(department_code)
        if department is not None:
            wards.append(
                gateway.ward_create(
                    actor=SEEDER,
                    department_id=department.pk,
                    code=code,
                    name=name,
                    beds=[f"{n:02d}" for n in range(1, beds + 1)],
                )
            )
    if physician is None or not wards:
        return
    free = gateway.beds_free()
    system = SessionContext.system()
    admitted = [pid for number, pid in created if number % 10 == ADMITTED]
    admitted_at = clock.now().replace(second=0, microsecond=0) - ADMITTED_AGO
    for n, patient_id in enumerate(admitted):
        ward = wards[n % len(wards)]
        bed = next((b for b in free if b.ward_id == ward.id), None)
        if bed is None:
            continue
        free.remove(bed)
        with clock.frozen_at(admitted_at):
            gateway.admission_admit(
                actor=SEEDER,
                session=system,
                purpose=PurposeOfUse.OPERATIONS,
                patient_id=patient_id,
                bed_id=bed.id,
                attending_id=physician.pk,
                nurse_id=nurse.pk if nurse is not None and ward.code == "ed-obs" else None,
                reason="Admitted for observation and treatment",
            )


# Open orders for the laboratory's worklist, by the demo physician (a result notifies her).
LAB_ORDERS = [
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma"),
    ("718-7", "Hemoglobin [Mass/volume] in Blood"),
]


def _seed_lab_orders(created: list[tuple[int, str]], physician: Any) -> None:
    if physician is None:
        return
    system = SessionContext.system()
    cared_for = [pid for number, pid in created if number % 10 in (1, 2, 5) and number != CANARY][:6]
    for n, patient_id in enumerate(cared_for):
        code, display = LAB_ORDERS[n % len(LAB_ORDERS)]
        gateway.order_create(
            actor=SEEDER,
            session=system,
            purpose=PurposeOfUse.OPERATIONS,
            patient_id=patient_id,
            code=code,
            display=display,
            ordering_clinician_id=physician.pk,
        )


ALLERGIC = 11  # DEMO-00011: cared for by the physician, allergic to penicillin (issue 12)


def _seed_chart_safety(created: dict[int, str]) -> None:
    """A penicillin-allergic patient of the physician (ordering amoxicillin
    warns), a pending amendment request from that patient, and a medication
    order waiting for the pharmacist's verification."""
    patient_id = created.get(ALLERGIC)
    if patient_id is None:
        return
    seeder: dict[str, Any] = {
        "actor": SEEDER,
        "session": SessionContext.system(),
        "purpose": PurposeOfUse.OPERATIONS,
    }
    gateway.allergy_create(
        **seeder,
        patient_id=patient_id,
        substance="Penicillin",
        reaction="Hives and wheeze",
        criticality="high",
    )
    gateway.amendment_request_record(
        **seeder,
        patient_id=patient_id,
        request="The patient asks to correct the clinic review: the chest pain began in March, not in May.",
    )
    gateway.medication_request_create(
        **seeder,
        patient_id=patient_id,
        medication="Lisinopril 10 MG Oral Tablet",
        rxnorm="314076",
        dosage="10 mg by mouth once daily",
    )


def _canary_register(patient_id: str) -> None:
    """The decoy is watched from the start: any access to it alerts."""
    from safeward.detection.services import canary_register

    canary_register(actor=None, patient_id=patient_id, label=CANARY_LABEL)


def _seed_clinic(ctx: SeedContext, created: list[tuple[int, str]], physician: Any, now: dt.datetime) -> None:
    department = ctx.departments.get("internal-medicine")
    if department is None:
        return
    system = SessionContext.system()
    # The hospital's day (SAFEWARD_TIME_ZONE), whatever the hour: today's
    # clinic is full, its visits before now checked in, the rest booked.
    today = timezone.localdate(now)
    for offset in (0, 1):
        day = today + dt.timedelta(days=offset)
        gateway.slots_create(
            actor=SEEDER,
            session=system,
            department_id=department.pk,
            day=day,
            start=dt.time(8),
            end=dt.time(17),
            minutes=20,
            clinician_id=physician.pk if physician is not None else None,
        )
    if not created:
        return
    for offset in (0, 1):
        day = today + dt.timedelta(days=offset)
        slots = gateway.schedule_day(
            actor=SEEDER,
            session=system,
            purpose=PurposeOfUse.OPERATIONS,
            department_id=department.pk,
            day=day,
        )
        free = [s for s in slots if s.appointment is None]
        for slot, (_, patient_id) in zip(free[::3], created[10:40], strict=False):
            try:
                booked = gateway.appointment_book(
                    actor=SEEDER,
                    session=system,
                    purpose=PurposeOfUse.OPERATIONS,
                    patient_id=patient_id,
                    slot_id=slot.id,
                    reason="Routine review",
                )
                if booked.starts_at < now:
                    gateway.appointment_check_in(
                        actor=SEEDER,
                        session=system,
                        purpose=PurposeOfUse.OPERATIONS,
                        appointment_id=booked.id,
                    )
            except (Conflict, InvalidInput):
                continue

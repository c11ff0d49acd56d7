import uuid
from pathlib import Path

import pytest

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.gateway._late_entries import order_reference
from safeward.clinical.types import SystemActor
from safeward.continuity import services
from safeward.identity.models import Department
from tests.clinical.conftest import WARD, new_patient, relate

CLI = SystemActor("cli")
TREAT = PurposeOfUse.TREATMENT


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.SAFEWARD_BACKUP_DIR = str(tmp_path / "backups")
    return tmp_path / "backups"


def enrol(tmp_path: Path):
    unit, private = services.kit_unit_enrol(actor=None, ward_code="m1")
    key = tmp_path / "m1-key.json"
    key.write_text(private)
    return unit, key


@pytest.fixture
def medicine():
    department, _ = Department.objects.get_or_create(code="medicine", defaults={"name": "Medicine"})
    return department


@pytest.fixture
def ward_with_patient(medicine, make_user, settings, tmp_path):
    settings.SAFEWARD_DOWNTIME_KIT_DIR = str(tmp_path / "kits")
    ward = gateway.ward_create(
        actor=CLI, department_id=medicine.pk, code="m1", name="Ward M1", beds=["1", "2"]
    )
    patient = new_patient(given="Kitty", family="Zebrowski", mrn="KIT-0001")
    clerk, doctor = make_user("registration_clerk"), make_user("physician")
    bed = next(b.id for b in gateway.beds_free() if b.ward_id == ward.id and b.label.endswith(" · 1"))
    gateway.admission_admit(
        actor=clerk,
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=patient,
        bed_id=bed,
        attending_id=doctor.pk,
    )
    gateway.allergy_create(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        substance="Penicillin",
        criticality="high",
    )
    gateway.condition_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, code="I10", display="Hypertension"
    )
    gateway.medication_request_create(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        medication="Amlodipine",
        dosage="5 mg daily",
    )
    return ward, patient


def order_write(doctor, patient, medication: str) -> str:
    view = gateway.medication_request_create(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        medication=medication,
        dosage="as needed",
    )
    return str(view.id)


@pytest.fixture
def ended(frozen_clock, ward_with_patient, tmp_path, make_user):
    """Orders written before a downtime that has ended, with a medication record queued."""
    _ward, patient = ward_with_patient
    unit, _key = enrol(tmp_path)
    services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=10)
    admin, nurse, other, doctor = (
        make_user("it_admin"),
        make_user("nurse"),
        make_user("nurse"),
        make_user("physician"),
    )
    relate(nurse, patient, "care_team")
    relate(doctor, patient, "attending")
    orders = {
        "paracetamol": order_write(doctor, patient, "Paracetamol 1 g"),
        "stopped": order_write(doctor, patient, "Ibuprofen"),
    }
    gateway.medication_discontinue(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        medication_id=orders["stopped"],
        reason="GI upset",
    )
    downtime = services.downtime_declare(actor=admin, kind="unplanned", reason="outage")
    frozen_clock.advance(minutes=40)
    entry = services.paper_entry_record(
        actor=nurse,
        downtime=downtime,
        encounter_number="DTM1-4",
        kind="medication_given",
        occurred_at=frozen_clock.now(),
        performed_by=other,
    )
    frozen_clock.advance(hours=2)
    services.downtime_end(actor=admin, downtime=downtime)
    entry.refresh_from_db()
    return entry, patient, nurse, other, doctor, orders


def order_ref(order_id: str) -> str:
    return order_reference(uuid.UUID(order_id))

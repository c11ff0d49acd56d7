"""A patient with immunizations, procedures and diagnostic reports, written
the only way they are written: through the gateway's import (issue 12)."""

from __future__ import annotations

import datetime as dt

from safeward.clinical import gateway
from safeward.clinical.types import (
    ImportedImmunization,
    ImportedObservation,
    ImportedPatient,
    ImportedProcedure,
    ImportedReport,
    PatientInput,
    SessionContext,
)
from tests.clinical.conftest import IMPORTER

START = dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC)


def patient_with_items(
    rows: int = 1, *, family: str = "Items", mrn: str | None = None, sensitive: bool = False
) -> str:
    """A patient with `rows` of each: an influenza vaccine, an appendectomy and
    a CBC report grouping two results (haemoglobin, leukocytes). With
    `sensitive`, one more of each marked as mental-health information."""
    observations, immunizations, procedures, reports = [], [], [], []
    for n in range(rows + (1 if sensitive else 0)):
        marked = "mental_health" if sensitive and n == rows else ""
        when = START + dt.timedelta(days=40 * n)
        for code, display, value, unit in (
            ("718-7", "Hemoglobin", "13.9", "g/dL"),
            ("6690-2", "Leukocytes", "6.1", "10*3/uL"),
        ):
            observations.append(
                ImportedObservation(
                    category="laboratory",
                    status="final",
                    code=code,
                    display=display,
                    value=value,
                    unit=unit,
                    effective_at=when,
                    encounter_key=None,
                    source_key=f"Observation/{code}-{n}",
                    sensitivity=marked,
                )
            )
        immunizations.append(
            ImportedImmunization(
                status="completed",
                vaccine_code="140",
                vaccine="Influenza, seasonal, injectable, preservative free",
                occurred_at=when,
                encounter_key=None,
                sensitivity=marked,
            )
        )
        procedures.append(
            ImportedProcedure(
                status="completed",
                code="80146002",
                display="Appendectomy",
                performed_at=when,
                performed_end=when + dt.timedelta(hours=1),
                reason="Acute appendicitis",
                encounter_key=None,
                sensitivity=marked,
            )
        )
        reports.append(
            ImportedReport(
                status="final",
                category="LAB",
                code="58410-2",
                display="Complete blood count panel",
                effective_at=when,
                issued_at=when + dt.timedelta(hours=2),
                conclusion=None,
                result_keys=(f"Observation/718-7-{n}", f"Observation/6690-2-{n}"),
                encounter_key=None,
                sensitivity=marked,
            )
        )
    outcome = gateway.patient_import(
        actor=IMPORTER,
        session=SessionContext.system(),
        record_in=ImportedPatient(
            patient=PatientInput(
                given_name="Ivy", family_name=family, birth_date=dt.date(1975, 6, 7), sex="female", mrn=mrn
            ),
            observations=observations,
            immunizations=immunizations,
            procedures=procedures,
            reports=reports,
        ),
    )
    assert outcome.patient_id is not None
    return outcome.patient_id


def paper_dose(doctor, patient_id: str, *, medication: str = "Paracetamol 1 g", verifier=None) -> str:
    """A dose from the paper MAR of a downtime around now (ADR 1419), given
    against a new order of `doctor`'s, verified by `verifier` when given
    (ADR 1420); the administration's id."""
    from safeward import clock
    from safeward.audit.vocabulary import PurposeOfUse
    from tests.clinical.conftest import WARD

    treat = PurposeOfUse.TREATMENT
    order = gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=treat, patient_id=patient_id, medication=medication
    )
    now = clock.now()
    (given,) = gateway.paper_mar_chart(
        actor=doctor,
        session=WARD,
        purpose=treat,
        patient_id=patient_id,
        paper_entry_id=1,
        occurred_at=now,
        downtime_started_at=now - dt.timedelta(hours=1),
        downtime_ended_at=now + dt.timedelta(hours=1),
        doses=[gateway.PaperDose(request_id=str(order.id), dose="1", dose_unit="g", route="oral")],
    )
    if verifier is not None:
        gateway.paper_mar_verify(
            actor=verifier, session=WARD, purpose=treat, paper_entry_id=1, administration_ids=[given.id]
        )
    return given.id

"""The chart's section queries are compiled once and executed from their SQL
(ADR 1632): for a patient with every section populated the chart is exactly
what the same querysets evaluated by the ORM give, section by section and as
a whole, and the statements are compiled once, not per chart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.gateway import _patients
from safeward.prepared import Compiled
from tests.clinical.chart_items import patient_with_items
from tests.clinical.conftest import WARD, relate
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_chart(make_user, settings, tmp_path):
    """A physician and a patient with rows in every chart section: tied
    times, a sensitive row, an amended note, a corrected result, rows with
    and without a person named, and an amendment request."""
    settings.VAR_DIR = tmp_path
    doctor, nurse = make_user("physician"), make_user("nurse")
    patient = patient_with_items(2, sensitive=True)
    for user, how in (
        (doctor, "attending"),
        (doctor, "care_team"),
        (nurse, "care_team"),
        (doctor, "department"),
    ):
        relate(user, patient, how)
    relate(doctor, patient, "appointment_today")
    common = {"actor": doctor, "session": WARD, "purpose": PurposeOfUse.TREATMENT, "patient_id": patient}
    for n in range(2):
        gateway.note_create(**common, title=f"Day {n}", text="Stable.")
        gateway.condition_create(**common, code="I10", display="Essential hypertension")
        gateway.allergy_create(**common, substance=f"Substance {n}")
        order = gateway.medication_request_create(**common, medication="Amlodipine 5 mg", dosage="once daily")
        gateway.observation_record(
            **common, category="vital-signs", code="8867-4", display="Heart rate", value="72", unit="/min"
        )
        gateway.order_create(**common, code="2345-7", display="Glucose")
    note = gateway.note_create(**common, title="Admission", text="First version.")
    gateway.note_amend(**common, note_id=note.id, title="Admission", text="Second version.", reason="Typo")
    result = gateway.observation_record(
        **common, category="laboratory", code="2345-7", display="Glucose", value="5.1", unit="mmol/L"
    )
    gateway.result_correct(
        **common, observation_id=result.id, value="5.4", unit="mmol/L", reason="Transcription"
    )
    content = b"%PDF-1.4 discharge letter"
    gateway.document_upload(
        **common,
        title="Letter",
        content_type="application/pdf",
        source=io.BytesIO(content),
        size=len(content),
    )
    gateway.amendment_request_record(
        actor=make_user("registration_clerk"),
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=patient,
        request="My address is wrong.",
    )
    with clinical_test_data():
        from safeward.clinical.models import MedicationAdministration, MedicationRequest

        request = MedicationRequest.objects.get(pk=order.id)
        given = MedicationAdministration(
            patient=request.patient, request=request, dose_unit="mg", route="oral"
        )
        given.dose, given.administered_at = "5", clock.now() - dt.timedelta(hours=1)
        given.recorded_by = nurse
        given.save()
    return doctor, patient


def _chart(doctor, patient):
    return gateway.chart_read(actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)


def test_every_section_is_what_the_orm_gives(full_chart, monkeypatch):
    doctor, patient = full_chart
    compiled = _chart(doctor, patient)
    filled = {f.name for f in dataclasses.fields(compiled) if isinstance(getattr(compiled, f.name), list)}
    assert all(getattr(compiled, name) for name in filled), [n for n in filled if not getattr(compiled, n)]
    assert compiled.withheld_sensitive == 0  # the physician sees the sensitive rows
    assert compiled.corrections
    assert any(n.previous for n in compiled.notes or [])

    monkeypatch.setattr(Compiled, "rows", lambda self, **values: list(self.build(**values)))
    monkeypatch.setattr(
        _patients,
        "rows_together",
        lambda queries: {name: list(query.build(**values)) for name, (query, values) in queries.items()},
    )
    assert _chart(doctor, patient) == compiled


def test_the_sections_are_read_together_as_each_alone(full_chart):
    """`rows_together` gives each query's `rows`, and on PostgreSQL sends
    every statement before the first answer is read (ADR 1633)."""
    from django.db import connection

    from safeward.prepared import in_pipeline, rows_together

    _, patient = full_chart
    values = {"patient": _patients.parse_id(patient)}
    names = ("encounters", "notes", "problems", "observations")
    queries = {name: (_patients._CHART[name], values) for name in names}
    piped: list[bool] = []

    def watch(execute, sql, params, many, context):
        piped.append(in_pipeline())
        return execute(sql, params, many, context)

    with clinical_test_data(), connection.execute_wrapper(watch):
        together = rows_together(queries)
    with clinical_test_data():
        alone = {name: query.rows(**values) for name, (query, values) in queries.items()}
        assert rows_together({}) == {}
        assert rows_together({"notes": queries["notes"]}) == {"notes": alone["notes"]}
    assert together == alone
    assert all(together.values())
    assert piped == [connection.vendor == "postgresql"] * len(names)


def test_each_compiled_query_gives_the_orm_instances(full_chart):
    _, patient = full_chart
    pid = _patients.parse_id(patient)
    values = {"patient": pid, "now": clock.now()}
    with clinical_test_data():
        for query in (*_patients._CHART.values(), _patients._PATIENT_READ):
            wanted = {k: v for k, v in values.items() if k in query.build.__code__.co_varnames}
            rows, expected = query.rows(**wanted), list(query.build(**wanted))
            assert rows, query.name
            assert [type(r) for r in rows] == [type(e) for e in expected], query.name
            for row, same in zip(rows, expected, strict=True):
                assert row.__dict__.keys() == same.__dict__.keys(), query.name
                for name, value in vars(same).items():
                    if name == "_state":
                        assert row._state.fields_cache.keys() == value.fields_cache.keys()
                        for relation, related in value.fields_cache.items():
                            mine = row._state.fields_cache[relation]
                            assert (mine and vars(mine).keys()) == (related and vars(related).keys())
                            assert mine == related, (query.name, relation)
                    elif hasattr(value, "reveal"):  # encrypted: the same ciphertext, bound to this row
                        assert value._ciphertext == getattr(row, name)._ciphertext
                        assert getattr(row, name)._instance is row
                    else:
                        assert getattr(row, name) == value, (query.name, name)


def test_the_section_queries_are_compiled_once(full_chart, monkeypatch):
    doctor, patient = full_chart
    _chart(doctor, patient)  # compiled in this thread
    compiles = []
    original = Compiled._compile
    monkeypatch.setattr(
        Compiled, "_compile", lambda self, values: compiles.append(self.name) or original(self, values)
    )
    _chart(doctor, patient)
    assert compiles == []

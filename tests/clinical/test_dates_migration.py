"""Migration clinical.0003 encrypts the service times of an existing install:
rows written with plain times before it read back the same times after it,
with their year bucket and day index, and nothing of the time stays in a
plain column. Going back decrypts them into plain columns again."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from safeward.crypto.fields import blind_index, decrypt_field
from tests.one_door import clinical_test_data

BEFORE = [("clinical", "0002_patient_prefix_trigram_indexes")]
AFTER = [("clinical", "0003_dates_encrypt_service_times")]
STARTED = dt.datetime(2018, 6, 7, 4, 5, 6, 123456, tzinfo=dt.UTC)
ENDED = dt.datetime(2018, 6, 9, 10, 0, tzinfo=dt.UTC)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    # identity stays at its newest state (going back in clinical leaves it
    # there), so the historical models see its current columns.
    target = [*target, *(node for node in executor.loader.graph.leaf_nodes() if node[0] == "identity")]
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_encrypted_and_can_be_migrated_back():
    try:
        _migrated_back_and_forth()
    finally:  # later migrations too: the next tests need the current schema
        with clinical_test_data():
            _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _migrated_back_and_forth():
    with clinical_test_data():  # migrations and their rows run outside any door, as in setup
        old = _migrate(BEFORE)
        department = old.get_model("identity", "Department").objects.create(code="mig", name="Migration ward")
        patient = old.get_model("clinical", "Patient")(
            id=uuid.uuid4(), sex="female", created_at=STARTED, updated_at=STARTED
        )
        patient.mrn, patient.given_name, patient.family_name, patient.birth_date = (
            "M-1",
            "Ada",
            "Q",
            STARTED.date(),
        )
        patient.save()
        encounter = old.get_model("clinical", "Encounter").objects.create(
            id=uuid.uuid4(),
            patient_id=patient.pk,
            kind="inpatient",
            department=department,
            status="finished",
            started_at=STARTED,
            ended_at=ENDED,
        )
        observation = old.get_model("clinical", "Observation")(
            id=uuid.uuid4(), patient_id=patient.pk, category="vital-signs", effective_at=STARTED
        )
        observation.code, observation.display = "8867-4", "Heart rate"
        observation.save()

        new = _migrate(AFTER)
        migrated = new.get_model("clinical", "Encounter").objects.get(pk=encounter.pk)
        assert decrypt_field(migrated, "started_at") == STARTED
        assert decrypt_field(migrated, "ended_at") == ENDED
        assert migrated.started_year == 2018
        from safeward.clinical.models import Encounter as CurrentEncounter

        assert bytes(migrated.ended_day_index) == blind_index(
            CurrentEncounter, "ended_day_index", ENDED.date()
        )
        result = new.get_model("clinical", "Observation").objects.get(pk=observation.pk)
        assert decrypt_field(result, "effective_at") == STARTED
        assert result.effective_year == 2018
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM clinical_encounter")
            raw = repr(cursor.fetchall())
        assert "2018-06-07" not in raw
        assert "2018-06-09" not in raw

        back = _migrate(BEFORE)
        assert back.get_model("clinical", "Encounter").objects.get(pk=encounter.pk).started_at == STARTED
        _migrate(AFTER)

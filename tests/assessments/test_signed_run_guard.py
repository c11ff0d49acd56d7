"""A signed control run cannot be edited or deleted in place (ADR 0941): a
trigger refuses raw SQL UPDATE and DELETE of the run, its results and their
resource rows on SQLite and PostgreSQL; an unsigned run stays writable (the
seal is itself an UPDATE); with the trigger dropped, `controls verify` still
catches the edit through the signature."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from safeward import clock
from safeward.assessments import services
from safeward.assessments.models import ControlResult, ControlRun, ResourceResult
from tests.assessments.guard_helpers import signed_run_guard_dropped

pytestmark = pytest.mark.django_db

RUN = "assessments_controlrun"
RESULT = "assessments_controlresult"
RESOURCE = "assessments_resourceresult"


def _ids(run: ControlRun) -> dict[str, int]:
    result = run.results.get(control_id="identity.mfa")
    resource = result.resources.first()
    assert resource is not None
    return {RUN: run.pk, RESULT: result.pk, RESOURCE: resource.pk}


EDITS = {
    "run-count": (RUN, "UPDATE {table} SET controls_failed = 0 WHERE id = %s"),
    "run-seal": (RUN, "UPDATE {table} SET snapshot_sha256 = 'x' WHERE id = %s"),
    "run-delete": (RUN, "DELETE FROM {table} WHERE id = %s"),
    "result-outcome": (RESULT, "UPDATE {table} SET outcome = 'pass' WHERE id = %s"),
    "result-delete": (RESULT, "DELETE FROM {table} WHERE id = %s"),
    "resource-passed": (RESOURCE, "UPDATE {table} SET passed = NOT passed WHERE id = %s"),
    "resource-label": (RESOURCE, "UPDATE {table} SET label = 'someone else' WHERE id = %s"),
    "resource-delete": (RESOURCE, "DELETE FROM {table} WHERE id = %s"),
}


def _execute(name: str, ids: dict[str, int]) -> None:
    table, sql = EDITS[name]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=table), [ids[table]])


def _state(run: ControlRun) -> list[tuple[object, ...]]:
    return [
        tuple(ControlRun.objects.filter(pk=run.pk).values_list("controls_failed", "snapshot_sha256")),
        tuple(ControlResult.objects.filter(run=run).order_by("pk").values_list("pk", "outcome")),
        tuple(
            ResourceResult.objects.filter(result__run=run).order_by("pk").values_list("pk", "passed", "label")
        ),
    ]


@pytest.mark.parametrize("name", list(EDITS))
def test_raw_sql_cannot_edit_or_delete_a_signed_run(tests_registry, name):
    run = services.controls_run(actor=None, registry=tests_registry)
    before = _state(run)
    with pytest.raises(DatabaseError, match="signed control run is read-only"), transaction.atomic():
        _execute(name, _ids(run))
    assert _state(run) == before
    assert services.verify_run(run).ok


def test_the_orm_is_refused_too(tests_registry):
    run = services.controls_run(actor=None, registry=tests_registry)
    with pytest.raises(DatabaseError), transaction.atomic():
        ResourceResult.objects.filter(result__run=run).update(passed=True)
    with pytest.raises(DatabaseError), transaction.atomic():
        ControlRun.objects.filter(pk=run.pk).delete()
    assert ResourceResult.objects.filter(result__run=run, passed=False).count() == 1


def test_an_unsigned_run_is_still_written_and_sealed():
    """The guard keys on the seal: the runner's rows before it (and the seal
    itself) go through, so only signed history is frozen."""
    run = ControlRun.objects.create(trigger="scheduled", started_at=clock.now())
    result = ControlResult.objects.create(run=run, control_id="x.y", title="X", outcome="pass")
    ResourceResult.objects.create(result=result, resource_type="t", resource_id="1", label="l", passed=True)
    ResourceResult.objects.filter(result=result).update(passed=False)
    ControlRun.objects.filter(pk=run.pk).update(key_id="k", snapshot_sha256="a" * 64)
    with pytest.raises(DatabaseError), transaction.atomic():
        ResourceResult.objects.filter(result=result).update(passed=True)
    assert not ResourceResult.objects.get(result=result).passed


def test_another_runs_rows_stay_writable_while_one_is_signed(tests_registry):
    signed = services.controls_run(actor=None, registry=tests_registry)
    draft = ControlRun.objects.create(trigger="scheduled", started_at=clock.now())
    ControlResult.objects.create(run=draft, control_id="x.y", title="X", outcome="pass")
    assert ControlResult.objects.filter(run=draft).update(outcome="fail") == 1
    ControlResult.objects.filter(run=draft).delete()
    ControlRun.objects.filter(pk=draft.pk).delete()
    assert ControlRun.objects.filter(pk=signed.pk).exists()


@pytest.mark.parametrize("name", ["run-count", "result-outcome", "resource-passed", "resource-delete"])
def test_with_the_trigger_dropped_verify_still_catches_the_edit(tests_registry, name):
    run = services.controls_run(actor=None, registry=tests_registry)
    out = StringIO()
    call_command("controls", "verify", str(run.pk), stdout=out)
    assert "verifies" in out.getvalue()
    with signed_run_guard_dropped():
        _execute(name, _ids(run))
    with pytest.raises(CommandError, match="does NOT verify"):
        call_command("controls", "verify", str(run.pk))
    # The guard is back: the next edit is refused again.
    with pytest.raises(DatabaseError), transaction.atomic():
        _execute("run-seal", _ids(run))

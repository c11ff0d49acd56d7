"""The batched import (`import_bundles` with parsing workers, COPY on
PostgreSQL): bundles stay apart. A bad resource leaves nothing of its bundle
behind and is reported as that bundle's row error; the bundles around it are
stored, each with its one audit event carrying the counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safeward.audit.models import AuditEvent
from safeward.clinical.importer import import_bundles
from tests.clinical.test_import import _first, _last, _sample_files, needs_sample


def _patient_bundles(count: int) -> list[dict]:
    bundles = [json.loads(p.read_bytes()) for p in _sample_files() if "practitioner" not in p.name]
    return bundles[:count]


def _write(folder: Path, bundles: list[dict]) -> list[Path]:
    paths = []
    for i, bundle in enumerate(bundles):
        path = folder / f"{i:02d}.json"
        path.write_text(json.dumps(bundle))
        paths.append(path)
    return paths


def _import_events() -> list[AuditEvent]:
    return [e for e in AuditEvent.objects.filter(action="create") if e.detail.get("import") == "fhir"]


@needs_sample
@pytest.mark.django_db
@pytest.mark.parametrize("workers", [0, 1])
def test_a_bad_resource_leaves_nothing_of_its_bundle_and_the_others_are_stored(tmp_path, workers):
    good_1, rule_breaker, not_fhir, good_2 = _patient_bundles(4)
    # Passes FHIR validation, refused by the record's rules after the patient row was written.
    _last("Condition", rule_breaker)["code"]["coding"][0].update(code="not a code!")
    _first("Observation", not_fhir).update(status=5)  # invalid FHIR R4: refused while parsing
    paths = _write(tmp_path, [good_1, rule_breaker, not_fhir, good_2])

    results = list(import_bundles(paths, workers=workers))

    assert [r.path for r in results] == [p.name for p in paths]  # in the order given
    assert [r.imported for r in results] == [True, False, False, True]
    assert results[1].error.startswith("rejected by the record's rules")
    assert "invalid FHIR R4" in results[2].error
    assert not results[1].counts
    assert not results[2].counts
    events = _import_events()
    assert len(events) == 2  # one per stored bundle, none for the refused ones
    assert {e.resource_id for e in events} == {results[0].patient_id, results[3].patient_id}
    for event in events:
        result = next(r for r in results if r.patient_id == event.resource_id)
        assert event.detail["counts"] == [f"{k}={v}" for k, v in result.counts.items()]
        assert result.counts["Observation"] > 0


@needs_sample
@pytest.mark.django_db
def test_workers_store_what_the_in_process_path_stores(tmp_path):
    """Parsing in a worker changes nothing of what is written: a second run
    in process finds every patient already there, with the same counts."""
    paths = _write(tmp_path, _patient_bundles(3))
    with_workers = list(import_bundles(paths, workers=1))
    assert all(r.imported for r in with_workers)
    again = list(import_bundles(paths, workers=0))
    assert all(r.already_present and not r.error for r in again)
    assert len(_import_events()) == 3


@pytest.mark.django_db
def test_the_command_refuses_a_negative_worker_count(tmp_path):
    from django.core.management import CommandError, call_command

    (tmp_path / "one.json").write_text("{}")
    with pytest.raises(CommandError, match="--workers must be 0 or more"):
        call_command("import", "fhir", str(tmp_path), "--workers", "-1", "--no-progress")


@needs_sample
@pytest.mark.django_db
def test_a_keyring_refresh_while_a_bundle_is_written_is_harmless(tmp_path, monkeypatch):
    """The keyring reloads from the database when its cache is stale; the
    COPY path computes every value before the COPY starts, since the
    connection cannot answer a query in the middle of one."""
    from safeward.crypto.keyring import Keyring

    monkeypatch.setattr(Keyring, "_stale", lambda self: True)  # every seal reloads the keyring
    [result] = import_bundles(_write(tmp_path, _patient_bundles(1)), workers=0)
    assert result.imported
    assert result.counts["Encounter"] > 0

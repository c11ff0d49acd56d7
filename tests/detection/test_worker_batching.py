"""The worker over a crafted backlog (issue 20, ADR 0944): what it decides
(alerts, their grouping and evidence, the review queue) is pinned here, and
the statements of a batch do not grow with the users in it, so the per-user
reads that made a backlog's catch-up slow cannot come back."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward.audit import context
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection import evaluate
from safeward.detection.models import AccessReview, Alert, DetectorCursor
from safeward.detection.selectors import WORKER_NAME
from safeward.detection.worker import process_pending
from tests.detection.conftest import access, new_patient, relate

pytestmark = pytest.mark.django_db


def _ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def search(user, patients, *, page=1, source="web"):
    token = context.bind(context.AuditContext(request_id="req", source=source))
    try:
        return audit_record(
            action=Action.SEARCH,
            actor=user,
            resource_type="Patient",
            purpose=PurposeOfUse.OPERATIONS,
            fields=["family_name", "given_name", "mrn"],
            detail={"criteria": ["name"], "results": len(patients), "page": page, "capped": False},
            patient_ids=patients,
        )
    finally:
        context.reset(token)


def _backlog(at, make_user):
    """Three searching users and a nurse, interleaved over 30 minutes."""
    harvester, front_desk, client, nurse = (
        make_user("registration_clerk"),
        make_user("registration_clerk"),
        make_user("registration_clerk"),
        make_user("nurse"),
    )
    related = new_patient(family="Quist")
    relate(nurse, related, "care_team")
    strangers = [new_patient(family=f"Stranger{n}") for n in range(4)]
    regulars = _ids(40)
    events: dict[str, list[int]] = {"harvest": [], "fhir": [], "reads": []}
    for step in range(6):
        at(minutes=step * 5)
        if step < 3:
            events["harvest"].append(search(harvester, _ids(40)).pk)  # 120 distinct in all
        search(front_desk, regulars[step * 5 : step * 5 + 10])  # 35 distinct: quiet
        events["fhir"].append(search(client, _ids(5), page=step + 1, source="fhir").pk)
        if step < 4:
            events["reads"].append(access(nurse, strangers[step]).pk)
        access(nurse, related)  # explained by the care team: never queued
    return harvester, front_desk, client, nurse, strangers, events


def _outputs() -> tuple[list[tuple], list[tuple]]:
    alerts = [
        (
            alert.rule,
            alert.subject_user_id,
            alert.occurrences,
            dict(alert.detail),
            sorted(alert.evidence.values_list("event_id", flat=True)),
        )
        for alert in Alert.objects.order_by("rule", "subject_user_id")
    ]
    reviews = sorted(AccessReview.objects.values_list("event_id", "user_id", "patient_id", "status"))
    return alerts, reviews


@pytest.mark.parametrize("size", [2000, 7])
def test_the_worker_decides_the_same_whatever_the_batches(at, make_user, settings, size):
    settings.SAFEWARD_DETECTION_BATCH = size
    harvester, _, client, nurse, strangers, events = _backlog(at, make_user)
    process_pending()
    alerts, reviews = _outputs()
    fhir_details = {a[3]["pages_followed"]: a for a in alerts if a[0] == "fhir_paging"}
    assert [(rule, user) for rule, user, *_ in alerts] == sorted(
        [
            ("fhir_paging", client.pk),
            ("search_paging", client.pk),
            ("search_volume", harvester.pk),
            ("unexplained_access", nurse.pk),
        ]
    )
    by_rule = {rule: (occurrences, detail, evidence) for rule, _, occurrences, detail, evidence in alerts}
    volume = by_rule["search_volume"]
    assert volume[1]["distinct_patients"] == 120
    assert volume[1]["searches"] == 3
    assert volume[2] == events["harvest"]
    assert max(fhir_details) == 5
    assert by_rule["fhir_paging"][2] == events["fhir"]
    assert by_rule["fhir_paging"][1]["distinct_patients"] == 30
    assert by_rule["search_paging"][1]["deepest_page"] == 6
    assert by_rule["unexplained_access"][1]["distinct_patients"] == 4
    assert by_rule["unexplained_access"][2] == events["reads"]
    assert reviews == [
        (event_id, nurse.pk, patient, "open")
        for event_id, patient in zip(events["reads"], strangers, strict=True)
    ]
    if size == 2000:  # one batch: one finding per rule and subject
        assert {rule: occurrences for rule, (occurrences, *_) in by_rule.items()} == dict.fromkeys(by_rule, 1)


def _statements(at, make_user, users: int, minute: int) -> int:
    at(minutes=minute)
    clerks = [make_user("registration_clerk") for _ in range(users)]
    # The accounts' own events first: the cursor exists and every per-process
    # cache is filled at this time, so only the backlog below is counted. An id
    # a rolled-back savepoint took (PostgreSQL) leaves a hole the next pass
    # reads once, whatever the users: forgotten here, and only the one batch
    # of the backlog is counted (not the pass after it), so both start alike.
    process_pending()
    DetectorCursor.objects.filter(name=WORKER_NAME).update(pending=[])
    for clerk in clerks:
        for page in (1, 2):
            search(clerk, _ids(5), page=page)
            search(clerk, _ids(5), page=page, source="fhir")
            access(clerk, str(uuid.uuid4()))
    with CaptureQueriesContext(connection) as queries:
        result = process_pending(max_batches=1)
    assert result.events == users * 6
    assert result.reviews == users * 2
    return len(queries)


def test_a_batch_reads_the_same_statements_for_two_users_or_eight(at, make_user, monkeypatch):
    monkeypatch.setattr(evaluate, "DISCLOSED_IDS_PER_QUERY", 1000)
    assert _statements(at, make_user, 2, 0) == _statements(at, make_user, 8, 300)


def test_the_patient_index_is_read_in_chunks_of_search_ids(at, make_user, monkeypatch):
    monkeypatch.setattr(evaluate, "DISCLOSED_IDS_PER_QUERY", 3)
    harvester, *_ = _backlog(at, make_user)
    with CaptureQueriesContext(connection) as queries:
        process_pending()
    reads = [
        q["sql"] for q in queries if "audit_auditeventpatient" in q["sql"] and q["sql"].startswith("SELECT")
    ]
    assert len(reads) >= 2  # the chunking is exercised, and the outcome is the same:
    (alert,) = Alert.objects.filter(rule="search_volume")
    assert alert.subject_user_id == harvester.pk
    assert alert.detail["distinct_patients"] == 120

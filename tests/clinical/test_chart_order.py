"""The chart's order is deterministic (issue 20): results that share a time
come back in one order, by time then id, newest first, on every path: the
gateway, the web chart (its laboratory table and the trend's latest value),
the REST chart and FHIR Observation search."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db
TREAT = PurposeOfUse.TREATMENT
TIES = 6


@pytest.fixture
def tied(make_user):
    """A patient with TIES potassium results at one time and two at an earlier one."""
    doctor, lab = make_user("physician"), make_user("lab_technician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    same = clock.now().replace(microsecond=0) - dt.timedelta(hours=1)
    for n, when in enumerate([same] * TIES + [same - dt.timedelta(hours=2)] * 2):
        gateway.observation_record(
            actor=lab,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            category="laboratory",
            code="2823-3",
            display="Potassium",
            value=f"4.{n}",
            unit="mmol/L",
            effective_at=when,
        )
    return doctor, patient


def test_results_sharing_a_time_come_back_in_one_order_on_every_path(tied, client):
    doctor, patient = tied
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient)
    results = chart.results or []
    expected = [r.id for r in sorted(results, key=lambda r: (r.effective_at, r.id), reverse=True)]
    assert len(expected) == TIES + 2
    assert len({r.effective_at for r in results[:TIES]}) == 1  # the ties are real
    # The gateway: by time, then id, newest first (and the same again).
    assert [r.id for r in results] == expected
    again = gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient)
    assert [r.id for r in again.results or []] == expected

    sign_in(client, doctor)
    # The web chart: its laboratory table, and the trend whose latest value is the chart's first.
    page = client.get(f"/clinical/patients/{patient}/")
    assert page.status_code == 200
    assert [row.result.id for row in page.context["lab_results"]] == expected
    (trend,) = page.context["trends"]
    assert trend.latest == results[0].value
    assert trend.previous == results[1].value
    # The REST chart.
    body = client.get(f"/api/v1/clinical/patients/{patient}/chart/").json()
    assert [r["id"] for r in body["results"]] == expected
    # FHIR Observation search (the results, then the open orders: none here).
    raw = token(doctor, "user/*.rs")
    bundle = client.get(f"/fhir/Observation?patient=Patient/{patient}", **bearer(raw))
    assert bundle.status_code == 200, bundle.content
    assert [e["resource"]["id"] for e in bundle.json()["entry"]] == expected

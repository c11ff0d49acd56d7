"""The per-clause tables are computed from the results: change a result and
the table changes; nothing in them is typed."""

from __future__ import annotations

import pytest

from safeward.assessments import scoring, services
from safeward.assessments.catalogs import catalog

pytestmark = pytest.mark.django_db


def _rows(table):
    return {
        row.id: (row.count, row.passing, row.failing, row.excepted, row.assessed, row.score)
        for row in table.rows
    }


def test_tables_follow_the_results(tests_registry, world, cat):
    services.controls_run(actor=None, registry=tests_registry)
    hicp = scoring.framework_table("hicp", catalog_=cat)
    # 3.M.A tested by identity.mfa (account 2 fails); 3.M.B untested;
    # 4.M.A tested but not applicable (no resources); 4.M.B keys pass.
    assert _rows(hicp) == {"3": (2, 0, 1, 0, 1, 0.0), "4": (2, 1, 0, 0, 1, 100.0)}
    world.accounts["2"] = True
    services.controls_run(actor=None, registry=tests_registry)
    assert _rows(scoring.framework_table("hicp", catalog_=cat))["3"] == (2, 1, 0, 0, 1, 100.0)
    world.keys_ok = False
    services.controls_run(actor=None, registry=tests_registry, only=["crypto.keys"])
    assert _rows(scoring.framework_table("hicp", catalog_=cat))["4"] == (2, 0, 1, 0, 1, 0.0)


def test_an_entry_without_a_test_takes_its_status_via_a_mapping(tests_registry, cat):
    services.controls_run(actor=None, registry=tests_registry)
    scorer = scoring.Scorer(catalog_=cat)
    status = scorer.status(cat.entry("csf2:PR.DS-01"))
    assert (status.status, status.source, status.controls) == ("pass", "mapping", ("crypto.keys",))
    assert status.via == (("hicp:4.M.B", "HICP Technical Volume 1, 4.M.B cites PR.DS-01"),)
    assert scorer.status(cat.entry("csf2:PR.AA-01")).source == "test"


def test_maturity_fills_untested_entries_and_tests_win(tests_registry, cat):
    services.controls_run(actor=None, registry=tests_registry)
    table = scoring.framework_table("hicp", {"hicp:3.M.B": 3, "hicp:3.M.A": 3}, catalog_=cat)
    row = next(r for r in table.rows if r.id == "3")
    statuses = {e.id: (e.status, e.source) for e in row.entries}
    assert statuses == {"3.M.A": ("fail", "test"), "3.M.B": ("maturity", "assessment")}
    assert (row.passing, row.failing, row.assessed, row.score) == (1, 1, 2, 50.0)
    low = scoring.framework_table("hicp", {"hicp:3.M.B": 1}, catalog_=cat)
    assert next(r for r in low.rows if r.id == "3").failing == 2
    with pytest.raises(ValueError, match="0-3"):
        scoring.framework_table("hicp", {"hicp:3.M.B": 7}, catalog_=cat)


def test_an_excepted_failure_counts_as_excepted(tests_registry, cat):
    import datetime as dt

    from safeward import clock
    from tests.factories import UserFactory

    one, two = (UserFactory(roles=["compliance_officer"]) for _ in range(2))
    services.controls_run(actor=None, registry=tests_registry)
    exception = services.exception_request(
        actor=one,
        control_id="identity.mfa",
        resource_type="account",
        resource_id="2",
        reason="Kiosk",
        expires_on=clock.now().date() + dt.timedelta(days=3),
    )
    services.exception_approve(actor=two, exception_id=exception.pk)
    run = services.controls_run(actor=None, registry=tests_registry)
    table = scoring.framework_table("hicp", run=run, catalog_=cat)
    assert _rows(table)["3"] == (2, 0, 0, 1, 1, 100.0)


def test_nothing_run_means_nothing_assessed(cat):
    table = scoring.framework_table("hicp", catalog_=cat)
    assert all(row.assessed == 0 and row.score is None for row in table.rows)
    assert table.total.count == 4


def test_every_real_framework_has_a_computed_table(tests_registry):
    real = catalog()
    services.controls_run(actor=None, registry=tests_registry)
    tables = scoring.framework_tables()
    assert {t.key for t in tables} == set(real.frameworks)
    for table in tables:
        framework = real.frameworks[table.key]
        assert [row.id for row in table.rows] == [c.id for c in framework.clauses()]
        assert table.total.count == sum(row.count for row in table.rows) > 0
    hicp = next(t for t in tables if t.key == "hicp")
    tested = {e.ref: e for row in hicp.rows for e in row.entries if e.source == "test"}
    assert tested["hicp:3.M.A"].status == "fail"

"""Patch plans (issue 17, remediation): a window under a change record, for
open findings of one system; refused whole on bad input; moved on by
people but verified only by a later inventory; a window later than a
finding's deadline shows (and fails the control: test_controls.py). Remediation is measured
per severity and department."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.patching import selectors, services
from safeward.patching.models import Finding, PatchPlan
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.patching.conftest import openssl

pytestmark = pytest.mark.django_db


@pytest.fixture
def finding(plannable_finding):
    return plannable_finding


def _plan(engineer, finding, **overrides):
    start = clock.now() + dt.timedelta(days=2)
    values = {
        "actor": engineer,
        "target_kind": finding.target_kind,
        "target_id": finding.target_id,
        "finding_ids": [finding.pk],
        "title": "OpenSSL upgrade on the interface engine",
        "window_start": start,
        "window_end": start + dt.timedelta(hours=4),
        "change_ref": "CHG0031234",
    }
    values.update(overrides)
    return services.plan_create(**values)


def test_a_plan_with_a_change_record_is_scheduled_and_audited(engineer, finding):
    plan = _plan(engineer, finding)
    assert plan.status == PatchPlan.Status.SCHEDULED
    assert list(plan.findings.all()) == [finding]
    event = AuditEvent.objects.filter(resource_type="PatchPlan", resource_id=str(plan.pk)).get()
    assert event.detail["change_ref"] == "CHG0031234"
    assert event.detail["findings"] == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": "  "}, "title"),
        ({"finding_ids": []}, "at least one open finding"),
        ({"finding_ids": [999_999]}, "not one of this target's"),
        ({"window_end": clock.now() + dt.timedelta(days=1)}, "ends after it starts"),
        ({"window_end": clock.now() + dt.timedelta(days=9)}, "at most 72 hours"),
        (
            {
                "window_start": clock.now() - dt.timedelta(days=3),
                "window_end": clock.now() - dt.timedelta(days=2),
            },
            "over already",
        ),
        ({"change_ref": "CHG 12; drop"}, "change record"),
        ({"target_id": 999_999}, "No such asset"),
    ],
)
def test_bad_plans_are_refused_whole(engineer, finding, overrides, message):
    with pytest.raises(services.PatchingError) as error:
        _plan(engineer, finding, **overrides)
    assert message in " ".join(error.value.errors)
    assert PatchPlan.objects.count() == 0
    assert not AuditEvent.objects.filter(resource_type="PatchPlan").exists()


def test_a_closed_finding_or_one_already_planned_cannot_be_planned(engineer, finding):
    _plan(engineer, finding)
    with pytest.raises(services.PatchingError, match="refused") as error:
        _plan(engineer, finding, change_ref="")
    assert "already in plan" in " ".join(error.value.errors)
    Finding.objects.update(state=Finding.State.FALSE_POSITIVE)
    with pytest.raises(services.PatchingError) as error:
        _plan(engineer, finding)
    assert "not open" in " ".join(error.value.errors)
    assert PatchPlan.objects.count() == 1


def test_only_triagers_plan(finding):
    nurse = UserFactory(roles=["nurse"], totp_secret=True)
    with pytest.raises(services.PatchingError, match="may not"):
        _plan(nurse, finding)


def test_the_life_of_a_plan_ends_with_the_inventory_not_a_tick(engineer, finding, dmz_asset):
    plan = _plan(engineer, finding, change_ref="")
    assert plan.status == PatchPlan.Status.PLANNED
    with pytest.raises(services.PatchingError) as error:
        services.plan_update(actor=engineer, plan_id=plan.pk, status="scheduled")
    assert "change record" in " ".join(error.value.errors)
    with pytest.raises(services.PatchingError, match="can become"):
        services.plan_update(actor=engineer, plan_id=plan.pk, status="verified")
    plan = services.plan_update(
        actor=engineer, plan_id=plan.pk, status="scheduled", change_ref="RFC-2026-114"
    )
    with pytest.raises(services.PatchingError) as error:
        services.plan_update(actor=engineer, plan_id=plan.pk, status="applied")
    assert "not started" in " ".join(error.value.errors)
    # The window came; the engineer applied the patch.
    later = clock.now() + dt.timedelta(days=2, hours=1)
    previous = clock.install(clock.FrozenClock(later))
    try:
        plan = services.plan_update(
            actor=engineer, plan_id=plan.pk, status="applied", note="yum update openssl"
        )
        assert plan.status == PatchPlan.Status.APPLIED
        assert "yum update openssl" in plan.notes
        # The next inventory still shows 1.0.1f: the plan stays applied (rolled back? re-schedule).
        services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
        assert PatchPlan.objects.get().status == PatchPlan.Status.APPLIED
        services.inventory_import(
            actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl("1.0.1g")
        )
    finally:
        clock.install(previous)
    plan = PatchPlan.objects.get()
    assert plan.status == PatchPlan.Status.VERIFIED
    assert plan.verified_at is not None
    assert AuditEvent.objects.filter(
        resource_type="PatchPlan", resource_id=str(plan.pk), detail__check="verified_by_inventory"
    ).exists()
    with pytest.raises(services.PatchingError, match="closed"):
        services.plan_update(actor=engineer, plan_id=plan.pk, status="cancelled")


def test_the_web_pages_plan_and_refuse_bad_input(engineer, finding):
    client = Client()
    sign_in(client, engineer)
    targets = client.get("/vulns/plans/new/")
    assert targets.status_code == 200
    key = f"asset:{finding.target_id}"
    assert f"?target={key}" in targets.content.decode()
    form = client.get(f"/vulns/plans/new/?target={key}&finding={finding.pk}")
    assert form.status_code == 200
    assert "SAFEWARD-2014-0160" in form.content.decode()
    start = (clock.now() + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    values = {
        "target": key,
        "title": "OpenSSL upgrade",
        "findings": [finding.pk],
        "window_start": start.strftime("%Y-%m-%dT%H:%M"),
        "window_end": (start - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "change_ref": "CHG0031234",
    }
    refused = client.post("/vulns/plans/new/", values)
    assert refused.status_code == 400
    assert "ends after it starts" in refused.content.decode()
    assert PatchPlan.objects.count() == 0
    assert client.post("/vulns/plans/new/", {**values, "findings": ["abc"]}).status_code == 400
    values["window_end"] = (start + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    saved = client.post("/vulns/plans/new/", values)
    plan = PatchPlan.objects.get()
    assert saved.status_code == 302
    assert saved["Location"] == f"/vulns/plans/{plan.pk}/"
    page = client.get(saved["Location"]).content.decode()
    assert "CHG0031234" in page
    assert "Scheduled" in page
    bad_move = client.post(f"/vulns/plans/{plan.pk}/update/", {"status": "applied"})
    assert bad_move.status_code == 400
    assert "not started" in bad_move.content.decode()
    assert client.post(f"/vulns/plans/{plan.pk}/update/", {"status": "verified"}).status_code == 400
    cancelled = client.post(
        f"/vulns/plans/{plan.pk}/update/", {"status": "cancelled", "note": "vendor recall"}
    )
    assert cancelled.status_code == 302
    assert PatchPlan.objects.get().status == PatchPlan.Status.CANCELLED
    listing = client.get("/vulns/plans/?status=cancelled").content.decode()
    assert "OpenSSL upgrade" in listing
    finding_page = client.get(f"/vulns/findings/{finding.pk}/").content.decode()
    assert "OpenSSL upgrade" in finding_page


def test_the_api_creates_reads_and_moves_plans(engineer, finding):
    client = Client()
    sign_in(client, engineer)
    start = clock.now() + dt.timedelta(days=1)
    body = {
        "title": "OpenSSL upgrade",
        "target_kind": "asset",
        "target_id": finding.target_id,
        "findings": [finding.pk],
        "window_start": start.isoformat(),
        "window_end": (start + dt.timedelta(hours=2)).isoformat(),
    }
    assert (
        client.post(
            "/api/v1/vulns/plans/", {**body, "findings": []}, content_type="application/json"
        ).status_code
        == 400
    )
    refused = client.post(
        "/api/v1/vulns/plans/", {**body, "change_ref": "no spaces allowed"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "change record" in " ".join(refused.json()["errors"])
    created = client.post("/api/v1/vulns/plans/", body, content_type="application/json")
    assert created.status_code == 201
    plan = created.json()
    assert plan["status"] == "planned"
    assert plan["findings"] == [finding.pk]
    assert plan["late_findings"] == []
    assert client.get("/api/v1/vulns/plans/?status=bogus").status_code == 400
    assert [p["id"] for p in client.get("/api/v1/vulns/plans/").json()] == [plan["id"]]
    moved = client.post(
        f"/api/v1/vulns/plans/{plan['id']}/update/",
        {"status": "scheduled", "change_ref": "CHG0031234"},
        content_type="application/json",
    )
    assert moved.status_code == 200
    assert moved.json()["change_ref"] == "CHG0031234"
    wrong = client.post(
        f"/api/v1/vulns/plans/{plan['id']}/update/", {"status": "verified"}, content_type="application/json"
    )
    assert wrong.status_code == 400
    assert client.get(f"/api/v1/vulns/plans/{plan['id']}/").json()["status"] == "scheduled"


def test_the_cli_lists_and_moves_plans(engineer, finding, capsys):
    plan = _plan(engineer, finding, change_ref="")
    call_command("vulns", "plans")
    out = capsys.readouterr().out
    assert "OpenSSL upgrade on the interface engine" in out
    assert "1 plan (open)." in out
    with pytest.raises(CommandError, match="change record"):
        call_command("vulns", "plan-update", str(plan.pk), "--status", "scheduled")
    call_command("vulns", "plan-update", str(plan.pk), "--status", "scheduled", "--change-ref", "CHG0031234")
    assert "Scheduled" in capsys.readouterr().out
    assert PatchPlan.objects.get().change_ref == "CHG0031234"


def test_remediation_is_measured_per_severity_and_department(engineer, finding, dmz_asset, capsys):
    services.inventory_import(
        actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl("1.0.1g")
    )
    board = selectors.dashboard()
    (row,) = [r for r in board.mttr_by_severity if r[1]]
    assert row[0] == finding.severity
    assert row[1] == 1
    assert row[3] == 1.0  # fixed within its deadline
    assert board.mttr_by_department == [("—", 1, row[2], 1.0)]
    call_command("vulns", "report", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["remediation_by_severity"][0]["fixed"] >= 0
    assert any(r["fixed"] == 1 for r in report["remediation_by_severity"])

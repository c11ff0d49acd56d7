"""The patching pages ask the database a fixed number of questions however
many targets and findings there are (issue 17): the plans list and the
"Plan a patch" targets resolve their targets' facts in one batch, and the
dashboard counts open findings in the database instead of loading them."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test import Client
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.assets.models import AssetDependency
from safeward.assets.services import asset_create
from safeward.patching import selectors, services
from safeward.patching.models import Finding
from tests.conftest import sign_in
from tests.patching.conftest import openssl

pytestmark = pytest.mark.django_db


def _engine_with_heartbleed(engineer, number: int, *, plan: bool) -> None:
    engine = asset_create(
        actor=None, values={"name": f"Interface engine {number}", "kind": "server", "network_zone": "dmz"}
    )
    # A dependent with clinical services: its facts are read with the engine's.
    ward = asset_create(
        actor=None,
        values={"name": f"Ward system {number}", "kind": "application", "clinical_services": ["ED"]},
    )
    AssetDependency.objects.create(asset=ward, depends_on=engine)
    services.inventory_import(actor=engineer, target_kind="asset", target_id=engine.pk, raw=openssl())
    if plan:
        finding = Finding.objects.get(target_kind="asset", target_id=engine.pk)
        start = clock.now() + dt.timedelta(days=2)
        services.plan_create(
            actor=engineer,
            target_kind="asset",
            target_id=engine.pk,
            finding_ids=[finding.pk],
            title=f"Upgrade {number}",
            window_start=start,
            window_end=start + dt.timedelta(hours=4),
            change_ref=f"CHG00{number}",
        )


def _queries(client: Client, path: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured), response.content.decode()


@pytest.mark.parametrize(
    ("path", "plan"), [("/vulns/plans/?status=open", True), ("/vulns/plans/new/", False)]
)
def test_target_lists_resolve_their_targets_in_one_batch(engineer, heartbleed, path, plan):
    client = Client()
    sign_in(client, engineer)
    _engine_with_heartbleed(engineer, 1, plan=plan)
    client.get(path)  # the first request of a session also reads the session and the role cache
    one, page = _queries(client, path)
    assert "Interface engine 1" in page
    for number in range(2, 7):
        _engine_with_heartbleed(engineer, number, plan=plan)
    six, page = _queries(client, path)
    assert all(f"Interface engine {n}" in page for n in range(1, 7))
    # One target or six: the same number of queries (one lookup per target before).
    assert six == one


def test_the_dashboard_counts_open_findings_without_loading_them(engineer, heartbleed, dc_asset):
    _engine_with_heartbleed(engineer, 1, plan=False)
    _engine_with_heartbleed(engineer, 2, plan=False)
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    loaded: list[Finding] = []

    def seen(sender, instance, **kwargs):
        loaded.append(instance)

    post_init.connect(seen, sender=Finding)
    try:
        board = selectors.dashboard()
    finally:
        post_init.disconnect(seen, sender=Finding)
    assert loaded == []
    assert board.by_severity == {"critical": 0, "high": 3, "medium": 0, "low": 0}
    assert board.kev == 0
    assert board.due_this_week == 0
    assert board.overdue == 0
    assert dict(board.by_device_class) == {"server": 3}


def test_the_dashboard_counts_what_is_overdue_due_and_kev(engineer, heartbleed, dmz_asset):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    finding = Finding.objects.get()
    now = clock.now()
    Finding.objects.filter(pk=finding.pk).update(kev=True, due_at=now + dt.timedelta(days=3))
    board = selectors.dashboard(now=now)
    assert (board.kev, board.due_this_week, board.overdue) == (1, 1, 0)
    board = selectors.dashboard(now=now + dt.timedelta(days=4))
    assert (board.kev, board.due_this_week, board.overdue) == (1, 0, 1)
    Finding.objects.filter(pk=finding.pk).update(excepted=True)
    board = selectors.dashboard(now=now)
    assert (board.kev, board.by_severity["high"], board.excepted) == (0, 0, 1)


def test_the_dashboard_page_reads_only_the_ten_most_urgent(engineer, heartbleed, dmz_asset, dc_asset):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    template = Finding.objects.get(target_id=dc_asset.pk)
    copies = []
    for number in range(12):
        template.pk = None
        template.component_version = f"1.0.1-build{number}"
        copies.append(copy.copy(template))
    Finding.objects.bulk_create(copies)
    client = Client()
    sign_in(client, engineer)
    client.get("/vulns/")
    loaded: list[Finding] = []

    def seen(sender, instance, **kwargs):
        loaded.append(instance)

    post_init.connect(seen, sender=Finding)
    try:
        page = client.get("/vulns/")
    finally:
        post_init.disconnect(seen, sender=Finding)
    assert page.status_code == 200
    assert len(loaded) == 10  # 14 open before: every one was read to pick ten
    # The DMZ one is the most urgent (14 days against 30), so it leads.
    assert selectors.findings_urgent(limit=1)[0].target_id == dmz_asset.pk

"""One vulnerability, many records (issue 17, ADR 1307): the same flaw
published as PYSEC-…, GHSA-… and CVE-… is one finding per component, showing
every id; KEV and EPSS apply through any alias; re-importing changes nothing;
a link that arrives later merges findings made apart. The records are the
real PyPA advisories in ../shared/data/osv (read, never copied in)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.db.models import F

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.patching import services
from safeward.patching.models import Advisory, Finding, PatchPlan
from tests.patching.conftest import KEV, cyclonedx

pytestmark = pytest.mark.django_db

OSV = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "osv"
    / "pypa-advisory-database-2024-10-10.tar.gz"
)
if not OSV.exists():
    OSV = Path("/work/shared/data/osv/pypa-advisory-database-2024-10-10.tar.gz")
# Zope and AccessControl: four real records chained by two GHSA and two CVE ids.
ZOPE = ("PYSEC-2021-368", "PYSEC-2021-875")
ACCESSCONTROL = ("PYSEC-2021-335", "PYSEC-2021-370")
CHAIN_IDS = [
    "CVE-2021-32807",
    "CVE-2021-32811",
    "GHSA-g4gq-j4p2-j8fr",
    "GHSA-qcx9-j53g-ccgf",
    "PYSEC-2021-335",
    "PYSEC-2021-368",
    "PYSEC-2021-370",
    "PYSEC-2021-875",
]


@cache
def _records() -> dict[str, dict[str, Any]]:
    wanted = {*ZOPE, *ACCESSCONTROL, "PYSEC-2024-5"}
    found = {}
    with tarfile.open(OSV) as archive:
        for member in archive:
            stem = Path(member.name).stem
            if member.isfile() and stem in wanted:
                handle = archive.extractfile(member)
                assert handle is not None
                found[stem] = yaml.safe_load(handle.read())
    assert set(found) == wanted
    return found


def record(osv_id: str, **changes: Any) -> dict[str, Any]:
    value = copy.deepcopy(_records()[osv_id])
    value.update(changes)
    return json.loads(json.dumps(value, default=str))


def _import(*records: dict[str, Any], actor=None) -> services.FeedStats:
    return services.osv_import(actor=actor, raw=json.dumps(list(records)).encode(), filename="osv.json")


def _inventory(engineer, asset, **packages: str) -> None:
    services.inventory_import(
        actor=engineer,
        target_kind="asset",
        target_id=asset.pk,
        raw=cyclonedx(
            [
                {"type": "library", "name": name, "version": version, "purl": f"pkg:pypi/{name}@{version}"}
                for name, version in packages.items()
            ]
        ),
    )


def test_records_of_one_vulnerability_make_one_finding_per_component(engineer, dc_asset):
    _import(*(record(i) for i in (*ZOPE, *ACCESSCONTROL)))
    _inventory(engineer, dc_asset, zope="5.1.2", accesscontrol="5.1")
    findings = list(Finding.objects.order_by("component_key"))
    # Four records, two components: two findings (four before), each showing every id.
    assert [f.component_name for f in findings] == ["accesscontrol", "zope"]
    for finding in findings:
        assert finding.vuln_id == "CVE-2021-32807"
        assert finding.vuln_ids == CHAIN_IDS
    assert set(Advisory.objects.values_list("vuln_id", flat=True)) == {"CVE-2021-32807"}


def test_reimport_is_idempotent(engineer, dc_asset):
    records = [record(i) for i in (*ZOPE, *ACCESSCONTROL)]
    _import(*records)
    _inventory(engineer, dc_asset, zope="5.1.2", accesscontrol="5.1")
    before = list(Finding.objects.order_by("pk").values())
    events = AuditEvent.objects.count()
    stats = _import(*records)
    assert (stats.unchanged, stats.created, stats.updated) == (4, 0, 0)
    assert list(Finding.objects.order_by("pk").values()) == before
    # Only the import's own event: nothing regrouped, merged or re-detected.
    assert AuditEvent.objects.count() == events + 1


def test_a_late_alias_link_merges_findings_made_apart(engineer, dc_asset):
    # First the zope records arrive without their aliases: two vulnerabilities, two findings.
    bare = [record(i, aliases=[], modified="2021-01-01T00:00:00Z") for i in ZOPE]
    _import(*bare)
    _inventory(engineer, dc_asset, zope="5.1.2")
    first, second = Finding.objects.order_by("pk")
    assert {first.vuln_id, second.vuln_id} == set(ZOPE)
    start = clock.now() + dt.timedelta(days=2)
    plan = services.plan_create(
        actor=engineer,
        target_kind="asset",
        target_id=dc_asset.pk,
        finding_ids=[second.pk],
        title="Zope upgrade",
        window_start=start,
        window_end=start + dt.timedelta(hours=2),
        change_ref="CHG0040001",
    )
    # Then the real records, newer, carrying the shared GHSA id: one finding remains.
    stats = _import(*(record(i) for i in ZOPE), actor=engineer)
    assert stats.updated == 2
    merged = Finding.objects.get()
    assert merged.pk == first.pk  # the earliest detected keeps its clock
    assert merged.vuln_id == "CVE-2021-32807"
    assert merged.vuln_ids == [
        "CVE-2021-32807",
        "CVE-2021-32811",
        "GHSA-g4gq-j4p2-j8fr",
        "GHSA-qcx9-j53g-ccgf",
        "PYSEC-2021-368",
        "PYSEC-2021-875",
    ]
    assert list(PatchPlan.objects.get(pk=plan.pk).findings.all()) == [merged]
    event = AuditEvent.objects.filter(resource_type="VulnFinding", detail__check="merged").get()
    assert event.resource_id == str(merged.pk)
    assert event.detail["merged"] == [second.pk]


def test_kev_and_epss_apply_through_an_alias_that_arrives_later(engineer, dc_asset):
    # The GitHub record alone names no CVE; the PyPA record links it to CVE-2024-22194.
    pysec = record("PYSEC-2024-5")
    ghsa = dict(pysec, id="GHSA-rgrf-6mf5-m882", aliases=[])
    _import(ghsa)
    _inventory(engineer, dc_asset, **{"case-utils": "0.9.1"})
    kev = copy.deepcopy(KEV)
    kev["vulnerabilities"][0].update(cveID="CVE-2024-22194", dueDate="2099-01-01")
    services.kev_import(actor=engineer, raw=json.dumps(kev).encode())
    services.epss_import(
        actor=engineer,
        raw=b"#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000\ncve,epss,percentile\n"
        b"CVE-2024-22194,0.5,0.99\n",
    )
    finding = Finding.objects.get()
    assert (finding.vuln_id, finding.kev, finding.severity) == ("GHSA-rgrf-6mf5-m882", False, "low")
    _import(pysec)
    finding = Finding.objects.get()
    assert finding.vuln_id == "CVE-2024-22194"
    assert finding.vuln_ids == ["CVE-2024-22194", "GHSA-rgrf-6mf5-m882", "PYSEC-2024-5"]
    assert finding.kev is True
    assert finding.severity == "critical"  # KEV escalates
    assert str(finding.due_inputs["epss_percentile"]).startswith("0.99")
    # A new KEV catalog without it moves the finding back through the same alias.
    services.kev_import(actor=engineer, raw=json.dumps(dict(KEV, vulnerabilities=[])).encode())
    assert Finding.objects.get().kev is False


def test_withdrawing_one_record_keeps_the_finding_of_the_others(engineer, dc_asset):
    _import(*(record(i) for i in ZOPE))
    _inventory(engineer, dc_asset, zope="5.1.2")
    finding = Finding.objects.get()
    withdrawn = record("PYSEC-2021-875", modified="2024-12-01T00:00:00Z", withdrawn="2024-12-01T00:00:00Z")
    stats = _import(withdrawn)
    assert (stats.withdrawn, stats.match.dropped) == (1, 0)
    kept = Finding.objects.get()
    assert kept.pk == finding.pk
    assert kept.advisory.osv_id == "PYSEC-2021-368"
    assert kept.vuln_id == "CVE-2021-32811"
    assert "PYSEC-2021-875" not in kept.vuln_ids
    # The last record withdrawn: the finding goes.
    stats = _import(
        record("PYSEC-2021-368", modified="2024-12-01T00:00:00Z", withdrawn="2024-12-01T00:00:00Z")
    )
    assert stats.match.dropped == 1
    assert not Finding.objects.exists()


def test_the_match_command_groups_what_an_upgrade_left_apart(engineer, dc_asset, capsys):
    _import(*(record(i) for i in ZOPE))
    _inventory(engineer, dc_asset, zope="5.1.2")
    # As migration 0003 leaves existing data: each record its own vulnerability.
    Advisory.objects.update(vuln_id=F("osv_id"))
    Finding.objects.update(vuln_id="PYSEC-2021-368", vuln_ids=["PYSEC-2021-368"])
    call_command("vulns", "match")
    assert "2 records regrouped" in capsys.readouterr().out
    assert Finding.objects.get().vuln_id == "CVE-2021-32807"

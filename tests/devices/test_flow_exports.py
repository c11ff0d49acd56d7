"""Observed flows (issue 14): a firewall log / flow export is placed in the
segments by CIDR, kept aggregated, refused whole on a bad row, shown where no
declared flow allows it, and read by the segment live test, so a control
fails on traffic that nobody declared."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.devices import controls, flow_exports, selectors, services
from safeward.devices.models import FlowExport, NetworkSegment, ObservedFlow
from tests.conftest import sign_in
from tests.devices.conftest import device
from tests.devices.test_controls import _control, _results

pytestmark = pytest.mark.django_db

EXPORT = b"""src_ip,dst_ip,dst_port,protocol,count,last_seen
10.21.0.5,10.40.0.10,104,tcp,120,2026-11-02T08:00:00Z
10.21.0.6,10.40.0.10,104,6,80,2026-11-02T09:00:00Z
10.21.0.5,52.1.2.3,443,tcp,7,2026-11-02T09:30:00Z
10.21.0.9,10.40.0.10,,icmp,3,
203.0.113.9,10.40.0.10,22,tcp,1,
"""


@pytest.fixture
def network(db):
    pumps = services.segment_create(
        actor=None,
        data={
            "name": "pumps",
            "zone": NetworkSegment.Zone.CLINICAL_DEVICES,
            "vlan": 210,
            "cidr": "10.21.0.0/24",
        },
    )
    pacs = services.segment_create(
        actor=None,
        data={"name": "pacs", "zone": NetworkSegment.Zone.DATA_CENTRE, "vlan": 40, "cidr": "10.40.0.0/16"},
    )
    # A narrower segment inside the data centre's range: the longest prefix wins.
    services.segment_create(
        actor=None,
        data={
            "name": "pacs-archive",
            "zone": NetworkSegment.Zone.DATA_CENTRE,
            "vlan": 41,
            "cidr": "10.40.0.0/28",
        },
    )
    services.flow_create(
        actor=None, source_id=pumps.pk, destination_id=pacs.pk, port=104, protocol="tcp", purpose="DICOM"
    )
    return pumps, pacs


def test_an_export_is_placed_in_segments_and_aggregated(network, engineer):
    result = flow_exports.flow_export_import(actor=engineer, data=EXPORT, filename="fw-2026-11-02.csv")
    assert result.ok, result.errors
    assert (result.rows, result.flows) == (5, 4)
    observed = {
        (f.source_label, f.destination_label, f.service): f.connections for f in ObservedFlow.objects.all()
    }
    assert observed == {
        ("pumps", "pacs-archive", "104/tcp"): 200,
        ("pumps", "internet", "443/tcp"): 7,
        ("pumps", "pacs-archive", "icmp"): 3,
        ("outside", "pacs-archive", "22/tcp"): 1,
    }
    export = result.export
    assert export is not None
    assert export.first_seen == dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
    event = AuditEvent.objects.get(resource_type="FlowExport", resource_id=str(export.pk))
    assert event.detail == {"rows": 5, "flows": 4, "undeclared": 3}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"src_ip,dst_ip,dst_port,protocol\n10.21.0.5,not-an-ip,104,tcp\n", "IPv4 or IPv6"),
        (b"src_ip,dst_ip,dst_port,protocol\n10.21.0.5,10.40.0.1,70000,tcp\n", "0 to 65535"),
        (b"src_ip,dst_ip,dst_port,protocol\n10.21.0.5,10.40.0.1,104,gre\n", "tcp, udp or icmp"),
        (b"src_ip,dst_ip,dst_port,protocol,count\n10.21.0.5,10.40.0.1,104,tcp,-4\n", "count"),
        (b"src_ip,dst_ip,dst_port,protocol,last_seen\n10.21.0.5,10.40.0.1,104,tcp,yesterday\n", "ISO 8601"),
        (b"src_ip,dst_ip,port\n", "unknown column"),
        (b"src_ip,dst_ip,dst_port,protocol\n", "no rows"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_a_bad_export_is_refused_whole(network, engineer, data, reason):
    good = b"10.21.0.5,10.40.0.10,104,tcp\n"  # after the bad row: one bad row refuses the good ones
    result = flow_exports.flow_export_import(
        actor=engineer, data=data + (good if data.count(b"\n") > 1 else b"")
    )
    assert not result.ok
    assert reason in " ".join(error.reason for error in result.errors)
    assert not FlowExport.objects.exists()
    assert not ObservedFlow.objects.exists()
    assert not AuditEvent.objects.filter(resource_type="FlowExport").exists()


def test_the_segment_live_test_fails_on_observed_traffic_nobody_declared(frozen_clock, network, engineer):
    pumps, pacs = network
    device("PUMP-1", manufacturer="Acme", model="X", segment=pumps)
    control = _control(
        engineer,
        frozen_clock.now().date(),
        test="segment_only_allows",
        test_segment=pumps.pk,
        test_port=104,
        test_protocol="tcp",
        test_destination=pacs.pk,
    )
    key = f"compensating-control:{control.pk}"
    assert _results(controls.compensating_controls, frozen_clock.now())[key].passed
    clean = b"src_ip,dst_ip,dst_port,protocol\n10.21.0.5,10.40.1.10,104,tcp\n"
    assert flow_exports.flow_export_import(actor=engineer, data=clean).ok
    assert _results(controls.compensating_controls, frozen_clock.now())[key].passed
    assert flow_exports.flow_export_import(actor=engineer, data=EXPORT).ok
    failed = _results(controls.compensating_controls, frozen_clock.now())[key]
    assert not failed.passed
    assert "pumps carried 443/tcp to internet (7 connections" in failed.evidence["reason"]
    undeclared = selectors.observed_flows(export=selectors.latest_flow_export(), undeclared_only=True)
    assert {(f.destination_label, f.service) for f in undeclared} == {
        ("pacs-archive", "104/tcp"),  # the archive is its own segment: declare it, or narrow the test
        ("internet", "443/tcp"),
        ("pacs-archive", "icmp"),
    }
    # The next export, after the firewall was fixed: the control passes again.
    assert flow_exports.flow_export_import(actor=engineer, data=clean).ok
    assert _results(controls.compensating_controls, frozen_clock.now())[key].passed


def test_the_page_the_api_and_the_cli_import_exports(network, tmp_path, capsys):
    from tests.factories import UserFactory

    admin = UserFactory(roles=["it_admin"], totp_secret=True)
    client = Client()
    sign_in(client, admin)
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = client.post(
        "/devices/flows/observed/import/",
        {"file": SimpleUploadedFile("fw.csv", b"src_ip,dst_ip,dst_port,protocol\nx,y,1,tcp\n")},
    )
    assert bad.status_code == 400
    assert "Line 2" in bad.content.decode()
    done = client.post("/devices/flows/observed/import/", {"file": SimpleUploadedFile("fw.csv", EXPORT)})
    assert done.status_code == 302
    page = client.get("/devices/segments/").content.decode()
    title = page[page.index("<title>") : page.index("</title>")]
    assert "Segments and flows" in title
    assert "<" not in title[len("<title>") :]
    assert page.index("Observed, not declared") > page.index('id="flows"')
    assert page.index("52.1.2.3") > page.index('id="undeclared"')
    api_bad = client.post(
        "/api/v1/devices/flows/observed/import/",
        {"csv": "src_ip\n1.2.3.4\n"},
        content_type="application/json",
    )
    assert api_bad.status_code == 400
    assert api_bad.json()["applied"] is False
    api = client.post(
        "/api/v1/devices/flows/observed/import/",
        {"csv": EXPORT.decode(), "filename": "fw.csv"},
        content_type="application/json",
    )
    assert api.status_code == 200
    assert api.json()["undeclared"] == 3
    path = tmp_path / "fw.csv"
    path.write_bytes(EXPORT)
    call_command("devices", "import-flow-export", str(path))
    assert "5 rows, 4 distinct flows, 3 not declared" in capsys.readouterr().out
    path.write_bytes(b"src_ip,dst_ip,dst_port,protocol\n1.2.3.4,5.6.7.8,99999,tcp\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("devices", "import-flow-export", str(path))
    assert FlowExport.objects.count() == 3

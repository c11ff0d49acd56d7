"""CycloneDX VEX and OpenVEX: export, import, round trip; bad documents refused."""

from __future__ import annotations

import json

import pytest

from safeward.patching import services, vex
from safeward.patching.models import Finding
from tests.patching.conftest import openssl

pytestmark = pytest.mark.django_db


@pytest.fixture
def finding(engineer, dmz_asset, heartbleed):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    return Finding.objects.get()


def test_cyclonedx_vex_round_trip(engineer, finding):
    services.finding_triage(
        actor=engineer,
        finding_id=finding.pk,
        state="not_affected",
        justification="code_not_reachable",
        detail="heartbeat disabled",
    )
    exported = vex.export_cyclonedx([Finding.objects.get()])
    services.finding_triage(actor=engineer, finding_id=finding.pk, state="in_triage")
    assert services.vex_import(actor=engineer, raw=json.dumps(exported).encode()) == 1
    finding.refresh_from_db()
    assert (finding.state, finding.justification, finding.detail) == (
        "not_affected",
        "code_not_reachable",
        "heartbeat disabled",
    )


def test_openvex_round_trip_by_alias_and_purl(engineer, finding):
    services.finding_triage(actor=engineer, finding_id=finding.pk, state="exploitable", response=["update"])
    exported = vex.export_openvex([Finding.objects.get()], author="seceng")
    assert exported["statements"][0]["status"] == "affected"
    document = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "statements": [
            {
                "vulnerability": {"name": "CVE-2014-0160"},
                "products": [{"@id": "pkg:generic/openssl@1.0.1f"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
            }
        ],
    }
    assert services.vex_import(actor=engineer, raw=json.dumps(document).encode()) == 1
    finding.refresh_from_db()
    assert (finding.state, finding.justification) == ("not_affected", "code_not_reachable")
    assert services.vex_import(actor=engineer, raw=json.dumps(exported).encode()) == 1
    finding.refresh_from_db()
    assert finding.state == "exploitable"


@pytest.mark.parametrize(
    "document",
    [
        b"nope",
        b"[]",
        b'{"bomFormat": "CycloneDX", "vulnerabilities":'
        b' [{"id": "X", "analysis": {"state": "maybe"}, "affects": [{"ref": "a"}]}]}',
        b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements":'
        b' [{"vulnerability": {"name": "X"}, "status": "not_affected", "products": ["a"]}]}',
        b'{"something": "else"}',
    ],
)
def test_bad_vex_is_refused_and_changes_nothing(engineer, finding, document):
    with pytest.raises(services.PatchingError):
        services.vex_import(actor=engineer, raw=document)
    finding.refresh_from_db()
    assert finding.state == "in_triage"

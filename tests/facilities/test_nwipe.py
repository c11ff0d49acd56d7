"""nwipe logs as certificate evidence (ADR 1110): a complete, verified run of
the certificate's medium is accepted; a log without its summary, a device that
failed or was aborted, a malformed row, another disk's serial, or "full"
verification the log does not show are refused with line numbers, and no
certificate is saved."""

from __future__ import annotations

import re

import pytest

from safeward import clock
from safeward.demo.facilities import nwipe_demo_log
from safeward.devices.models import Device
from safeward.facilities import nwipe, services
from safeward.facilities.models import Certificate
from tests.facilities.conftest import CERTIFICATE

GOOD = nwipe_demo_log("PF-12345", model="T14")


def test_a_good_log_gives_its_facts():
    log = nwipe.parse(GOOD)
    assert log.version == "0.37"
    assert log.methods == ("PRNG Stream",)
    assert log.verified
    assert [(d.name, d.status, d.model, d.serial) for d in log.devices] == [
        ("sda", "Erased", "T14", "PF-12345")
    ]


def test_a_failed_device_and_a_malformed_row_are_named_by_line():
    bad = GOOD.replace(b"| Erased |", b"| -FAILED- |").replace(
        b"  sda    |", b"  sdb | Erased | 1 MB/s\n  sda    |"
    )
    with pytest.raises(nwipe.BadLog) as raised:
        nwipe.parse(bad)
    assert raised.value.errors == [
        "line 8: a summary row needs 5 cells (device, status, thru-put, time, model/serial)",
        "line 9: device sda was not erased (status -FAILED-)",
    ]


@pytest.mark.parametrize(
    "log", [b"nwipe version 0.37\nUser aborted.\n", b"", "\u00e9\u00e8 nwipe".encode("latin-1")]
)
def test_a_run_that_did_not_finish_is_refused(log):
    with pytest.raises(nwipe.BadLog, match="does not prove"):
        nwipe.parse(log)


@pytest.fixture
def laptop(db):
    now = clock.now()
    return Device.objects.create(
        kind="laptop",
        asset_tag="LAP-0042",
        serial="PF-12345",
        lifecycle="retired",
        created_at=now,
        updated_at=now,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("log", "message"),
    [
        (
            GOOD.replace(b"| Erased |", b"| UABORTED |"),
            "line 8: device sda was not erased (status UABORTED)",
        ),
        (
            nwipe_demo_log("OTHER-1"),
            "media_serial PF-12345 is not among the serials the nwipe log erased",
        ),
        (
            GOOD.replace(b"Verif", b"Check"),
            "verification is full but the nwipe log shows no verification",
        ),
        (b"nwipe version 0.37\n", "no summary table"),
    ],
)
def test_a_certificate_with_a_bad_log_is_refused_and_nothing_is_saved(laptop, make_user, log, message):
    tech = make_user("it_admin")
    with pytest.raises(services.FacilityError, match=re.escape(message)):
        services.certificate_record(
            actor=tech,
            fields=dict(CERTIFICATE),
            device_id=laptop.pk,
            evidence=log,
            evidence_name="nwipe.log",
        )
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_sampling_needs_no_verification_pass_and_a_pdf_is_kept_by_its_hash(laptop, make_user):
    tech = make_user("it_admin")
    services.certificate_record(
        actor=tech,
        fields=dict(CERTIFICATE, verification="sampling"),
        device_id=laptop.pk,
        evidence=GOOD.replace(b"Verif", b"Check"),
        evidence_name="nwipe.log",
    )
    services.certificate_record(
        actor=tech,
        fields=dict(CERTIFICATE),
        device_id=laptop.pk,
        evidence=b"%PDF-1.7 ...",
        evidence_name="r.pdf",
    )
    assert Certificate.objects.count() == 2

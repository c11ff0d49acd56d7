"""The demo's ward kiosk: a compliant kiosk workstation and the SMART app linked to it;
nothing without the devices step; the same state when run twice."""

from __future__ import annotations

import pytest

from safeward.demo.device_clients import KIOSK_APP, KIOSK_TAG, seed_device_clients
from safeward.demo.seed import SEED_STEPS, SeedContext
from safeward.devices.models import ClientDevice
from safeward.devices.oauth_links import client_links
from tests.devices.posture_support import make_device
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _ctx(lines: list[str]) -> SeedContext:
    return SeedContext(write=lines.append, previous={})


def test_the_step_runs_after_the_posture_step():
    names = [step.__name__ for step in SEED_STEPS]
    assert names.index("seed_device_posture") < names.index("seed_device_clients")


def test_without_devices_it_does_nothing():
    lines: list[str] = []
    seed_device_clients(_ctx(lines))
    assert not ClientDevice.objects.exists()
    assert lines == []


def test_a_kiosk_client_linked_to_a_compliant_device_and_it_is_idempotent(frozen_clock):
    make_device("PUMP-0001", kind="medical")
    UserFactory(username="demo.it_admin", roles=["it_admin"], totp_secret=True)
    UserFactory(username="demo.security_officer", roles=["security_officer"], totp_secret=True)
    lines: list[str] = []
    seed_device_clients(_ctx(lines))
    assert lines == [f"Ward kiosk client: {KIOSK_APP} linked to {KIOSK_TAG}"]
    [row] = client_links()
    assert (row.link.device.asset_tag, row.link.application.name, row.posture) == (
        KIOSK_TAG,
        KIOSK_APP,
        "compliant",
    )
    assert row.link.linked_by.username == "demo.security_officer"
    seed_device_clients(_ctx(lines))
    assert ClientDevice.objects.count() == 1
    assert lines[-1] == "Ward kiosk client: in place"

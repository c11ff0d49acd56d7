"""The demo's wipes step: two lost ward phones, one wipe confirmed by the MDM import and
one awaiting it; nothing without the devices step; the same state when run twice."""

from __future__ import annotations

import pytest

from safeward.demo.device_wipes import seed_device_wipes
from safeward.demo.seed import SEED_STEPS, SeedContext
from safeward.devices.models import WipeRequest
from tests.devices.posture_support import make_device
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _ctx(lines: list[str]) -> SeedContext:
    return SeedContext(write=lines.append, previous={})


def test_the_step_runs_after_the_posture_step():
    names = [step.__name__ for step in SEED_STEPS]
    assert names.index("seed_device_posture") < names.index("seed_device_wipes")


def test_without_devices_it_does_nothing():
    lines: list[str] = []
    seed_device_wipes(_ctx(lines))
    assert not WipeRequest.objects.exists()
    assert lines == []


def test_one_confirmed_and_one_pending_wipe_and_it_is_idempotent(frozen_clock):
    make_device("PUMP-0001", kind="medical")
    UserFactory(username="demo.it_admin", roles=["it_admin"], totp_secret=True)
    lines: list[str] = []
    seed_device_wipes(_ctx(lines))
    assert lines == ["Device wipes: 1 confirmed by the MDM, 1 awaiting it"]
    wipes = {w.device.asset_tag: w for w in WipeRequest.objects.select_related("device")}
    assert wipes["PH-W3-01"].confirmation_source == "fleet"
    assert wipes["PH-W3-02"].confirmed_at is None
    seed_device_wipes(_ctx(lines))
    assert WipeRequest.objects.count() == 2
    assert lines[-1] == "Device wipes: in place"

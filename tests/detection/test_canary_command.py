"""`safeward canary`: decoys registered, listed and removed from the command line."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from safeward.audit.models import AuditEvent
from safeward.detection.models import CanaryRecord
from tests.clinical.conftest import new_patient

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("canary", *args, stdout=out)
    return out.getvalue()


def test_add_list_remove():
    decoy = new_patient(family="Decoy", mrn="CAN1")
    assert "registered (ward 3 decoy)" in _run("add", decoy, "--label", "ward 3 decoy")
    listing = _run("list")
    assert decoy in listing
    assert listing.rstrip().endswith("1 canary")
    canary = CanaryRecord.objects.get()
    assert AuditEvent.objects.filter(action="config_change", resource_type="CanaryRecord").count() == 1
    assert f"canary {canary.pk} removed" in _run("remove", str(canary.pk))
    assert not CanaryRecord.objects.exists()
    assert _run("list").rstrip().endswith("0 canaries")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "no-such-patient", "--label", "x"), "No patient with this id"),
        (("add", "PATIENT", "--label", "drill decoy"), "reserved for the attack drills"),
        (("add", "PATIENT", "--label", " "), "label"),
        (("remove", "999999"), "No such canary"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(args, message):
    decoy = new_patient(family="Decoy", mrn="CAN2")
    args = tuple(decoy if arg == "PATIENT" else arg for arg in args)
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert not CanaryRecord.objects.exists()


def test_drill_canaries_are_listed_only_when_asked():
    from safeward.detection.services import canary_register

    decoy = new_patient(family="Decoy", mrn="CAN3")
    canary_register(actor=None, patient_id=decoy, label="drill:pool-1")
    assert decoy not in _run("list")
    assert decoy in _run("list", "--drills")

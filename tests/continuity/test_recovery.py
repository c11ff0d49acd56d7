"""Recovery after downtime: pre-assigned downtime encounter numbers, paper
entries queued with their original time and who did them, verified by a
second person, and the report of everything back-entered. Bad input is
refused with nothing saved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from safeward import clock
from safeward.continuity import services
from safeward.continuity.models import DowntimeNumberRange, PaperEntry
from tests.conftest import sign_in
from tests.continuity.conftest import enrol

pytestmark = pytest.mark.django_db


def test_numbers_are_assigned_in_disjoint_ranges(ward_with_patient, tmp_path):
    unit, _key = enrol(tmp_path)
    first = services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=100)
    second = services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=50)
    assert (first.first, first.last, second.first, second.last) == (1, 100, 101, 150)
    for prefix, count in (("bad prefix", 10), ("DTM1-", 0), ("DTM1-", 10_001)):
        with pytest.raises(services.RecoveryRefused):
            services.number_range_assign(actor=None, unit=unit, prefix=prefix, count=count)
    assert DowntimeNumberRange.objects.count() == 2
    with pytest.raises(CommandError, match="no downtime unit"):
        call_command("continuity", "numbers", "zz", "--prefix", "DTZ-")
    call_command("continuity", "numbers", "m1", "--prefix", "DTM1-", "--count", "10")
    assert DowntimeNumberRange.objects.order_by("-last").first().last == 160


def test_paper_entries_are_queued_verified_by_a_second_person_and_reported(
    ward_with_patient, tmp_path, make_user
):
    unit, _key = enrol(tmp_path)
    services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=100)
    admin, nurse, other = make_user("it_admin"), make_user("nurse"), make_user("nurse")
    downtime = services.downtime_declare(actor=admin, kind="unplanned", reason="outage")
    when = downtime.started_at
    entry = services.paper_entry_record(
        actor=nurse,
        downtime=downtime,
        encounter_number="DTM1-7",
        kind="vital_signs",
        occurred_at=when,
        performed_by=other,
    )
    refusals = [
        {"encounter_number": "DTM1-999"},  # outside the assigned range
        {"encounter_number": "MRN-12345"},
        {"kind": "gossip"},
        {"occurred_at": when - dt.timedelta(hours=1)},  # before the downtime
        {"occurred_at": clock.now() + dt.timedelta(days=1)},
    ]
    for change in refusals:
        values = {"encounter_number": "DTM1-8", "kind": "note", "occurred_at": when, **change}
        with pytest.raises(services.RecoveryRefused):
            services.paper_entry_record(actor=nurse, downtime=downtime, performed_by=other, **values)
    assert PaperEntry.objects.count() == 1
    with pytest.raises(services.RecoveryRefused, match="second person"):
        services.paper_entry_verify(actor=nurse, entry=entry)
    verified = services.paper_entry_verify(actor=other, entry=entry)
    assert verified.state == PaperEntry.State.VERIFIED
    with pytest.raises(services.RecoveryRefused):
        services.paper_entry_verify(actor=other, entry=entry)

    client = Client()
    sign_in(client, make_user("auditor"))
    report = client.get("/continuity/recovery/report/")
    assert report.status_code == 200
    assert b"DTM1-7" in report.content


def test_the_recovery_form_refuses_bad_input(ward_with_patient, tmp_path, make_user):
    unit, _key = enrol(tmp_path)
    services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=10)
    nurse = make_user("nurse")
    downtime = services.downtime_declare(actor=make_user("it_admin"), kind="unplanned", reason="outage")
    downtime = services.downtime_end(actor=make_user("it_admin"), downtime=downtime)
    client = Client()
    sign_in(client, nurse)
    good = {
        "downtime": downtime.pk,
        "encounter_number": "DTM1-3",
        "kind": "note",
        "occurred_at": downtime.ended_at.isoformat(),
        "performed_by": nurse.username,
    }
    for change in (
        {"performed_by": "nobody-here"},
        {"encounter_number": "DTM1-11"},
        {"kind": "x"},
        {"occurred_at": "yesterday"},
        {"downtime": 999_999},
    ):
        assert client.post("/continuity/recovery/", {**good, **change}).status_code == 400
    assert not PaperEntry.objects.exists()
    assert client.post("/continuity/recovery/", good).status_code == 302
    assert PaperEntry.objects.count() == 1

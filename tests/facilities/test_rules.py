"""The badge rules: each fires on its case and stays quiet on a legitimate
look-alike; time zones (a door in another zone, the night the clocks go back)."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.detection.models import Alert
from safeward.facilities import services
from safeward.facilities.models import DoorEvent
from safeward.identity import services as identity_services
from safeward.identity.models import NetworkZone
from safeward.workforce import services as workforce_services
from tests.facilities.conftest import ingest, row

pytestmark = pytest.mark.django_db

MONDAY_10 = "2026-11-02T10:00:00-05:00"


def rules():
    return sorted(Alert.objects.values_list("rule", flat=True))


def test_authorised_entry_in_the_window_is_quiet(clerk):
    result = ingest(
        row("B-100", "RR-1", MONDAY_10), row("B-100", "RR-1", "2026-11-02T10:30:00-05:00", direction="out")
    )
    assert result.events == 2
    assert rules() == []


def test_entry_without_authorisation_fires_and_the_alert_names_the_events(clerk):
    result = ingest(row("B-100", "PH-1", MONDAY_10))
    assert rules() == ["badge_unauthorised_entry"]
    alert = Alert.objects.get()
    assert alert.detail["stream"] == "door"
    assert alert.detail["areas"] == ["pharmacy"]
    assert alert.evidence.get().event_id == result.audit_event_id


def test_a_denied_attempt_or_a_way_out_is_not_an_unauthorised_entry(clerk):
    ingest(row("B-100", "PH-1", MONDAY_10, result="denied"), row("B-100", "PH-1", MONDAY_10, direction="out"))
    assert rules() == []


def test_an_unknown_badge_opening_a_secure_door_fires(areas):
    ingest(row("NOBODY-1", "NU-1", MONDAY_10))
    assert rules() == ["badge_unauthorised_entry"]


def test_outside_the_schedule_fires_inside_is_quiet(clerk):
    ingest(row("B-100", "RR-1", "2026-11-02T18:59:00-05:00"))
    assert rules() == []
    ingest(row("B-100", "RR-1", "2026-11-02T21:00:00-05:00"))  # Monday evening
    ingest(row("B-100", "RR-1", "2026-11-03T06:00:00-05:00"))  # Tuesday, before the window
    assert rules() == ["badge_outside_schedule"]
    assert Alert.objects.get().occurrences == 2


def test_a_door_in_another_time_zone_is_judged_in_its_own_zone(admin_person):
    # 23:05 in New York is 22:05 in Chicago: inside the 22:00-06:00 night window.
    ingest(row("B-200", "DC-1", "2026-11-02T23:05:00-05:00"))
    assert rules() == []
    # 22:30 in New York is 21:30 in Chicago: before the window (New York time would say inside).
    ingest(row("B-200", "DC-1", "2026-11-02T22:30:00-05:00"))
    assert rules() == ["badge_outside_schedule"]


def test_the_night_the_clocks_go_back(clerk, areas):
    # A night window 22:00-06:00 from Saturday; on 1 Nov 2026 New York goes from EDT to EST at 02:00.
    services.authorisation_grant(
        actor=None, area=areas["nursery"], person_id=clerk.pk, weekdays="sat",
        start_time=dt.time(22, 0), end_time=dt.time(6, 0),
    )  # fmt: skip
    ingest(
        row("B-100", "NU-1", "2026-11-01T01:30:00-04:00"),  # the first 01:30 (EDT)
        row("B-100", "NU-1", "2026-11-01T01:30:00-05:00"),  # the second 01:30 (EST)
        row("B-100", "NU-1", "2026-11-01T10:30:00Z"),  # 05:30 EST (a fixed -4 offset would say 06:30)
    )
    assert rules() == []
    ingest(row("B-100", "NU-1", "2026-11-01T11:30:00Z"))  # 06:30 EST: the window has closed
    assert rules() == ["badge_outside_schedule"]


def test_a_terminated_persons_badge_fires_at_the_records_room_at_night(clerk, hr):
    workforce_services.termination_schedule(
        actor=hr, person=clerk, effective_at=workforce_services.clock.now(), reason="dismissal"
    )
    ingest(row("B-100", "RR-1", "2026-11-03T02:10:00-05:00", result="denied"))
    assert rules() == ["badge_terminated"]
    assert Alert.objects.get().severity == "critical"


def test_a_colleagues_badge_at_the_same_door_is_quiet(clerk, make_user, make_person, catalog, hr):
    other = make_person(user=make_user("registration_clerk"), position=catalog["positions"]["clerk"])
    services.badge_issue(actor=None, credential_id="B-101", person_id=other.pk)
    ingest(row("B-101", "RR-1", MONDAY_10))
    assert rules() == []


def test_repeated_denials_fire_scattered_denials_are_quiet(clerk):
    ingest(
        row("B-100", "PH-1", "2026-11-02T10:00:00-05:00", result="denied"),
        row("B-100", "PH-1", "2026-11-02T10:20:00-05:00", result="denied"),
        row("B-100", "PH-1", "2026-11-02T10:40:00-05:00", result="denied"),
    )
    assert rules() == []
    ingest(row("B-100", "PH-1", "2026-11-02T10:43:00-05:00", result="denied"))
    ingest(
        row("B-100", "PH-1", "2026-11-02T10:45:00-05:00", result="denied")
    )  # 3 within 10 minutes, across imports
    assert rules() == ["badge_repeated_denials"]


def _session(user, zone):
    return identity_services.session_start(
        user=user,
        session_key=f"k-{user.pk}-{zone}",
        client_ip="203.0.113.9",
        network_zone=zone,
        user_agent="t",
        mfa_at_now=True,
    )


def test_entry_while_signed_in_from_a_remote_zone_fires(clerk, frozen_clock):
    NetworkZone.objects.create(name="clinical-lan", cidrs=["10.0.0.0/8"], clinical=True)
    frozen_clock.advance(hours=6)  # 10:00 in New York, Monday
    _session(clerk.user, "outside")
    frozen_clock.advance(minutes=5)
    ingest(row("B-100", "RR-1", "2026-11-02T10:01:00-05:00"))
    assert rules() == ["badge_impossible_travel"]


def test_entry_while_signed_in_inside_the_hospital_is_quiet(clerk, frozen_clock):
    NetworkZone.objects.create(name="clinical-lan", cidrs=["10.0.0.0/8"], clinical=True)
    frozen_clock.advance(hours=6)
    _session(clerk.user, "clinical-lan")
    frozen_clock.advance(minutes=5)
    ingest(row("B-100", "RR-1", "2026-11-02T10:01:00-05:00"))
    assert rules() == []


def test_a_remote_session_that_ended_before_the_entry_is_quiet(clerk, frozen_clock):
    frozen_clock.advance(hours=6)
    session = _session(clerk.user, "outside")
    frozen_clock.advance(minutes=5)
    identity_services.user_sessions_end_all(actor=None, user=clerk.user, reason="logout")
    session.refresh_from_db()
    assert session.ended_at is not None
    frozen_clock.advance(minutes=5)
    ingest(row("B-100", "RR-1", "2026-11-02T10:11:00-05:00"))
    assert rules() == []


def test_a_disabled_rule_stays_quiet(clerk):
    from safeward.detection.services import rule_config_save

    rule_config_save(actor=None, code="badge_unauthorised_entry", enabled=False, severity="high", params={})
    ingest(row("B-100", "PH-1", MONDAY_10))
    assert rules() == []


def test_a_resent_or_reimported_event_is_stored_and_judged_once(clerk):
    first = ingest(row("B-100", "PH-1", MONDAY_10), row("B-100", "PH-1", MONDAY_10))  # repeated in the file
    assert (first.events, first.duplicates) == (1, 1)
    again = ingest(row("B-100", "PH-1", "2026-11-02T15:00:00Z"))  # the same instant, written in UTC
    assert (again.events, again.duplicates, again.alerts) == (0, 1, 0)
    assert DoorEvent.objects.count() == 1
    assert Alert.objects.get().occurrences == 1
    # The same badge at the same door and instant, but denied, is another event.
    other = ingest(row("B-100", "PH-1", MONDAY_10, result="denied"))
    assert (other.events, other.duplicates) == (1, 0)


def test_a_batch_of_many_people_is_judged_per_event(clerk, make_user, make_person, catalog):
    # Preloaded lookups must not blur people: a colleague in the same position
    # is authorised, a badge without a position is not, in the same batch.
    colleague = make_person(user=make_user("registration_clerk"), position=catalog["positions"]["clerk"])
    services.badge_issue(actor=None, credential_id="B-101", person_id=colleague.pk)
    outsider = make_person(user=make_user("registration_clerk"), position=None)
    services.badge_issue(actor=None, credential_id="B-102", person_id=outsider.pk)
    ingest(
        row("B-100", "RR-1", MONDAY_10),
        row("B-101", "RR-1", "2026-11-02T10:01:00-05:00"),
        row("B-102", "RR-1", "2026-11-02T10:02:00-05:00"),
        row("B-101", "RR-1", "2026-11-02T22:00:00-05:00"),
    )
    assert sorted(Alert.objects.values_list("rule", "group_key")) == [
        ("badge_outside_schedule", "badge_outside_schedule|badge:B-101"),
        ("badge_unauthorised_entry", "badge_unauthorised_entry|badge:B-102"),
    ]


def _outcome():
    """What an ingest leaves behind, independent of how it was batched."""
    from safeward.detection.models import AlertEvidence

    events = sorted(
        DoorEvent.objects.values_list(
            "credential_id", "person_id", "door__code", "area__code", "occurred_at", "granted", "direction"
        )
    )
    alerts = sorted(
        Alert.objects.values_list(
            "rule", "group_key", "severity", "first_event_at", "last_event_at", "status"
        )
    )
    areas = {
        group_key: sorted(detail["areas"])
        for group_key, detail in Alert.objects.values_list("group_key", "detail")
    }
    return events, alerts, areas, AlertEvidence.objects.exists()


def test_one_batch_and_one_event_per_call_leave_the_same_events_and_alerts(clerk, admin_person):
    """The ingest judges a batch with one query per lookup (ADR 1110, 1116): it
    must store and alert exactly as one ingest per event does."""
    from django.db import transaction

    stream = [
        row("B-100", "RR-1", MONDAY_10),  # authorised, in the window
        row("B-100", "RR-1", MONDAY_10),  # repeated in the file: one event
        row("B-100", "RR-1", "2026-11-02T10:30:00-05:00", direction="out"),
        row("B-100", "PH-1", "2026-11-02T10:31:00-05:00"),  # no authorisation for the pharmacy
        row("B-100", "RR-1", "2026-11-02T21:00:00-05:00"),  # after 19:00: outside the schedule
        row("B-200", "DC-1", "2026-11-02T23:30:00-05:00"),  # 22:30 Chicago: inside the night shift
        row("B-200", "DC-1", "2026-11-02T18:00:00-05:00"),  # 17:00 Chicago: outside it
        row("B-999", "NU-1", "2026-11-02T11:00:00-05:00"),  # an unknown badge
        row("B-999", "NU-1", "2026-11-02T11:01:00-05:00", result="denied"),
        row("B-100", "PH-1", "2026-11-02T11:02:00-05:00", result="denied"),
        row("B-100", "PH-1", "2026-11-02T11:04:00-05:00", result="denied"),
        row("B-100", "PH-1", "2026-11-02T11:06:00-05:00", result="denied"),  # three within ten minutes
    ]

    class Undo(Exception):
        pass

    def run(batches):
        try:
            with transaction.atomic():
                for batch in batches:
                    services.events_ingest(actor=None, rows=batch, source="test")
                seen = _outcome()
                raise Undo
        except Undo:
            return seen

    bulk = run([stream])
    single = run([[r] for r in stream])
    assert bulk == single
    events, alerts, _, evidence = bulk
    assert len(events) == len(stream) - 1
    assert evidence
    assert sorted({a[0] for a in alerts}) == [
        "badge_outside_schedule",
        "badge_repeated_denials",
        "badge_unauthorised_entry",
    ]

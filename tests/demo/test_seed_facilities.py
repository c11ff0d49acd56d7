"""The demo's physical security: the former employee's badge at the records
room at 02:10 and the nurse in the pharmacy alert; the physician's chart read on
the records room's PC without a badge-in alerts (chart_without_badge_in); three
media wait to leave, one without a certificate; a second run changes nothing."""

from __future__ import annotations

import pytest

from safeward.demo.facilities import seed_facilities
from safeward.detection.models import Alert
from safeward.facilities.models import Area, Certificate, DoorEvent, Medium, Visitor, Workstation
from safeward.identity.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_day_of_door_events(seeded_demo):
    assert Area.objects.count() == 5
    rules = sorted(Alert.objects.filter(rule__startswith="badge_").values_list("rule", flat=True))
    assert rules == ["badge_terminated", "badge_unauthorised_entry"]
    former = DoorEvent.objects.get(credential_id="BADGE-FORMER-1")
    assert (
        former.occurred_at.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York")).strftime("%H:%M")
        == "02:10"
    )
    assert Visitor.objects.filter(flagged_patient_visit=True).count() == 1
    # The records room's PC: the clerk opened a record on it without a badge-in that shift.
    planted = Alert.objects.get(rule="chart_without_badge_in")
    assert planted.detail["areas"] == ["records"]
    assert planted.subject_user_id == User.objects.get(username="demo.registration_clerk").pk
    assert planted.patient_id == ""
    assert Workstation.objects.get().area.code == "records"
    assert Medium.objects.count() == 3
    assert Certificate.objects.filter(validated_at__isnull=False).count() == 1
    assert Certificate.objects.count() == 2
    counts = (DoorEvent.objects.count(), Visitor.objects.count(), Certificate.objects.count())

    class Ctx:
        def write(self, line):
            self.line = line

    ctx = Ctx()
    seed_facilities(ctx)
    assert ctx.line == "facilities: already seeded"
    assert (DoorEvent.objects.count(), Visitor.objects.count(), Certificate.objects.count()) == counts
    assert Alert.objects.filter(rule="chart_without_badge_in").count() == 1
    assert Workstation.objects.count() == 1


def test_the_workstations_page_shows_the_planted_read(seeded_demo, client):
    from tests.conftest import sign_in

    sign_in(client, User.objects.get(username="demo.security_officer"))
    page = client.get("/facilities/workstations/").content.decode()
    table = page[page.index('id="unbadged"') : page.index("</table>", page.index('id="unbadged"'))]
    assert "demo.registration_clerk" in table
    assert "WS-REC-01" in table

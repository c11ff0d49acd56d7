"""Chart-access rules: each fires on the suspicious case and stays quiet on
the legitimate look-alike (docs/detection.md, the decision table)."""

from __future__ import annotations

import pytest

from safeward.audit.vocabulary import Action
from safeward.detection.models import AccessReview, Alert, DailyAccessCount
from safeward.detection.services import rule_config_save, staff_match_keys_set
from tests.detection.conftest import access, alerts, new_patient, relate, run
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db


def _rule(code, **params):
    from safeward.detection.selectors import rule_config

    config = rule_config(code=code)
    rule_config_save(
        actor=None, code=code, enabled=True, severity=config.severity, params={**config.params, **params}
    )


def test_unexplained_access_goes_to_review_and_alerts_at_the_threshold(at, make_user):
    clerk = make_user("registration_clerk")
    patients = [new_patient(family=f"Zed{n}", mrn=f"U{n}") for n in range(3)]
    at(minutes=0)
    access(clerk, patients[0])
    run()
    assert AccessReview.objects.filter(user_id=clerk.pk).count() == 1
    assert alerts("unexplained_access") == []
    at(minutes=10)
    access(clerk, patients[1])
    access(clerk, patients[2])
    run()
    (alert,) = alerts("unexplained_access")
    assert alert.subject_user_id == clerk.pk
    assert alert.detail["distinct_patients"] == 3
    assert AccessReview.objects.filter(user_id=clerk.pk, status="open").count() == 3


@pytest.mark.parametrize("relationship", ["care_team", "attending", "department", "appointment_today"])
def test_an_explained_access_is_not_queued(at, make_user, relationship):
    nurse = make_user("nurse")
    patient = new_patient()
    at(minutes=0)
    relate(nurse, patient, relationship)
    access(nurse, patient)
    run()
    assert not AccessReview.objects.exists()


def test_a_care_team_nurse_opening_many_charts_in_a_shift_is_not_snooping(at, make_user):
    nurse = make_user("nurse")
    patients = [new_patient(family=f"Ward{n}", mrn=f"W{n}") for n in range(40)]
    at(minutes=0)
    for pid in patients:
        relate(nurse, pid, "care_team")
    for n, pid in enumerate(patients):
        at(minutes=n * 5)  # 40 charts over a 3-hour stretch of the shift
        access(nurse, pid)
    run()
    assert not AccessReview.objects.exists()
    assert list(Alert.objects.exclude(rule="key_operation").values_list("rule", "title")) == []
    assert DailyAccessCount.objects.get(user_id=nurse.pk).distinct_patients == 40


def test_mass_access_fires_above_the_role_threshold(at, make_user):
    _rule("mass_access", threshold=10, role_thresholds={"nurse": 15})
    clerk = make_user("billing_clerk")
    patients = [new_patient(family=f"Mass{n}", mrn=f"M{n}") for n in range(12)]
    at(minutes=0)
    for pid in patients[:6]:
        access(clerk, pid)
    run()  # the window spans two batches
    assert alerts("mass_access") == []
    at(minutes=20)
    for pid in patients[6:]:
        access(clerk, pid)
    run()
    (alert,) = alerts("mass_access")
    assert alert.detail == {"distinct_patients": 12, "threshold": 10}


def test_mass_access_uses_the_highest_threshold_of_the_users_roles(at, make_user):
    _rule("mass_access", threshold=10, role_thresholds={"nurse": 15})
    nurse = make_user("nurse")
    patients = [new_patient(family=f"Mass{n}", mrn=f"M{n}") for n in range(12)]
    at(minutes=0)
    for pid in patients:
        access(nurse, pid)
    run()
    assert alerts("mass_access") == []


def test_mass_access_counts_only_inside_the_window(at, make_user):
    _rule("mass_access", threshold=5, role_thresholds={}, window_minutes=30)
    clerk = make_user("billing_clerk")
    patients = [new_patient(family=f"Slow{n}", mrn=f"S{n}") for n in range(8)]
    for n, pid in enumerate(patients):
        at(minutes=n * 10)  # never more than 3 in 30 minutes
        access(clerk, pid)
        run()
    assert alerts("mass_access") == []


@pytest.mark.parametrize(
    ("code", "flag"),
    [("vip_access", "is_vip"), ("employee_access", "is_employee"), ("deceased_access", "deceased")],
)
def test_flagged_patients_alert_when_unexplained(at, make_user, code, flag):
    clerk = make_user("registration_clerk")
    patient = new_patient(**{flag: True}) if flag != "deceased" else _deceased()
    at(minutes=0)
    access(clerk, patient)
    run()
    (alert,) = alerts(code)
    assert alert.patient_id == patient
    assert alert.subject_username == clerk.username


@pytest.mark.parametrize(
    ("code", "flag"),
    [("vip_access", "is_vip"), ("employee_access", "is_employee"), ("deceased_access", "deceased")],
)
def test_flagged_patients_on_the_users_care_team_do_not_alert(at, make_user, code, flag):
    nurse = make_user("nurse")
    patient = new_patient(**{flag: True}) if flag != "deceased" else _deceased()
    at(minutes=0)
    relate(nurse, patient, "care_team")
    access(nurse, patient)
    run()
    assert alerts(code) == []


def _deceased() -> str:
    from safeward.clinical.models import Patient

    pid = new_patient(family="Late")
    with clinical_test_data():
        Patient.objects.filter(pk=pid).update(deceased=True)
    return pid


def test_family_snooping_same_surname(at, make_user):
    clerk = make_user("registration_clerk", last_name="Quist-Brown")
    relative = new_patient(family="QUIST-BROWN", mrn="F1")
    stranger = new_patient(family="Other", mrn="F2")
    at(minutes=0)
    access(clerk, relative)
    access(clerk, stranger)
    run()
    (alert,) = alerts("family_snooping")
    assert alert.patient_id == relative
    assert "Quist" not in alert.title
    assert "QUIST" not in alert.title


def test_same_surname_on_the_care_team_is_not_snooping(at, make_user):
    nurse = make_user("nurse", last_name="Quist")
    patient = new_patient(family="Quist")
    at(minutes=0)
    relate(nurse, patient, "care_team")
    access(nurse, patient)
    run()
    assert alerts("family_snooping") == []


def test_neighbour_snooping_same_address(at, make_user):
    clerk = make_user("registration_clerk")
    staff_match_keys_set(
        actor=None, user_id=clerk.pk, address={"line": ["1  test street"], "city": "Elsewhere"}
    )
    neighbour = new_patient(mrn="N1")  # lives at 1 Test Street
    at(minutes=0)
    access(clerk, neighbour)
    run()
    (alert,) = alerts("neighbour_snooping")
    assert alert.patient_id == neighbour


def test_a_different_address_is_not_a_neighbour(at, make_user):
    clerk = make_user("registration_clerk")
    staff_match_keys_set(actor=None, user_id=clerk.pk, address={"line": ["2 Test Street"]})
    patient = new_patient(mrn="N2")
    at(minutes=0)
    access(clerk, patient)
    run()
    assert alerts("neighbour_snooping") == []


def test_own_record_by_national_id(at, make_user):
    clerk = make_user("registration_clerk")
    staff_match_keys_set(actor=None, user_id=clerk.pk, national_id="123 45 6789")
    own = new_patient(mrn="O1")  # national id 123-45-6789
    at(minutes=0)
    access(clerk, own)
    run()
    (alert,) = alerts("own_record")
    assert alert.subject_user_id == clerk.pk


def test_own_record_by_explicit_link_and_not_for_others(at, make_user):
    clerk = make_user("registration_clerk")
    own = new_patient(mrn="O2")
    other = new_patient(mrn="O3")
    from safeward.clinical.models import Patient

    with clinical_test_data():
        Patient.objects.filter(pk=other).update(national_id_index=None)
    staff_match_keys_set(actor=None, user_id=clerk.pk, patient_id=own)
    at(minutes=0)
    access(clerk, other)
    run()
    assert alerts("own_record") == []
    access(clerk, own)
    run()
    assert len(alerts("own_record")) == 1


def test_after_hours_outside_the_default_schedule(at, make_user):
    clerk = make_user("registration_clerk")
    patient = new_patient()
    at(hours=-7)  # 02:00 on Monday
    access(clerk, patient)
    run()
    (alert,) = alerts("after_hours")
    assert alert.detail["local_time"] == "Mon 02:00"


def test_night_shift_schedule_covers_the_ed_nurse(at, make_user):
    from tests.factories import DepartmentFactory

    ed = DepartmentFactory(code="ed", name="Emergency")
    _rule(
        "after_hours",
        only_unexplained=False,
        schedules=[{"department": "ed", "role": "nurse", "days": ["mon", "tue"], "hours": "19:00-07:00"}],
    )
    nurse = make_user("nurse", profile=ed)
    clerk = make_user("registration_clerk")
    patient = new_patient()
    at(hours=-7)  # 02:00 Monday; the Monday night shift started Sunday: not covered
    access(nurse, patient)
    at(hours=17)  # 02:00 Tuesday: the Monday night shift
    access(nurse, patient)
    access(clerk, patient)  # the default schedule applies to the clerk
    run()
    found = alerts("after_hours")
    assert {(a.subject_user_id, a.detail["local_time"]) for a in found} == {
        (nurse.pk, "Mon 02:00"),
        (clerk.pk, "Tue 02:00"),
    }


def test_bulk_export_fires_on_many_patients_not_on_one(at, make_user):
    _rule("bulk_export", threshold=5)
    physician = make_user("physician")
    patients = [new_patient(family=f"Exp{n}", mrn=f"E{n}") for n in range(5)]
    at(minutes=0)
    for pid in patients[:4]:
        relate(physician, pid, "care_team")
        access(physician, pid, action=Action.EXPORT)
        access(physician, pid, action=Action.PRINT)
    run()
    assert alerts("bulk_export") == []
    access(physician, patients[4], action=Action.PRINT)
    run()
    (alert,) = alerts("bulk_export")
    assert alert.detail["distinct_patients"] == 5


def test_break_glass_access_is_not_queued_as_unexplained(at, make_user):
    physician = make_user("physician")
    patient = new_patient()
    at(minutes=0)
    access(physician, patient, emergency=True)
    run()
    assert not AccessReview.objects.exists()

"""Baselines: today's distinct patients against the user's own history and
against peers in the same role and department (robust z-score)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from safeward.detection.baselines import robust_z
from safeward.detection.models import DailyAccessCount
from tests.detection.conftest import START, access, alerts, run

pytestmark = pytest.mark.django_db
TODAY = START.date()


def _history(user_id: int, counts: list[int], *, roles: str = "registration_clerk", department=None) -> None:
    DailyAccessCount.objects.bulk_create(
        DailyAccessCount(
            user_id=user_id,
            day=TODAY - dt.timedelta(days=n + 1),
            roles=roles,
            department_id=department,
            distinct_patients=count,
        )
        for n, count in enumerate(counts)
    )


def _open(user, count: int) -> None:
    for _ in range(count):
        access(user, str(uuid.uuid4()))


def test_robust_z_uses_median_and_mad_with_a_floor():
    assert robust_z(30, [10, 11, 9, 10, 12, 10, 8], mad_floor=2.0) == pytest.approx(0.6745 * 20 / 2)
    assert robust_z(30, [10] * 7, mad_floor=2.0) == pytest.approx(0.6745 * 20 / 2)  # MAD 0: the floor
    assert robust_z(30, [10, 20, 30, 40, 50], mad_floor=2.0) == pytest.approx(0.0)


def test_far_above_the_users_own_history(at, make_user):
    clerk = make_user("registration_clerk")
    _history(clerk.pk, [10, 12, 9, 11, 10, 13, 8, 10])
    at(minutes=0)
    _open(clerk, 30)
    run()
    (alert,) = alerts("baseline_outlier")
    assert alert.detail["basis"] == "own"
    assert alert.detail["count"] == 30
    assert alert.detail["z_own"] > 3.5


def test_a_busy_user_on_a_usual_day_is_not_an_outlier(at, make_user):
    clerk = make_user("registration_clerk")
    _history(clerk.pk, [28, 35, 30, 25, 33, 31, 29, 30])
    at(minutes=0)
    _open(clerk, 32)
    run()
    assert alerts("baseline_outlier") == []
    assert DailyAccessCount.objects.get(user_id=clerk.pk, day=TODAY).distinct_patients == 32


def test_a_new_user_is_compared_with_peers(at, make_user):
    from tests.factories import DepartmentFactory

    desk = DepartmentFactory(code="front-desk")
    clerk = make_user("registration_clerk", profile=desk)
    for peer in range(3):
        _history(10_000 + peer, [10, 11, 12], department=desk.pk)
    at(minutes=0)
    _open(clerk, 40)
    run()
    (alert,) = alerts("baseline_outlier")
    assert alert.detail["basis"] == "peers"
    assert alert.detail["z_own"] is None


def test_too_little_history_and_no_peers_means_no_verdict(at, make_user):
    clerk = make_user("registration_clerk")
    _history(clerk.pk, [1, 1, 1])
    at(minutes=0)
    _open(clerk, 40)
    run()
    assert alerts("baseline_outlier") == []


def test_the_same_patient_counts_once_per_day_across_batches(at, make_user):
    clerk = make_user("registration_clerk")
    patient = str(uuid.uuid4())
    at(minutes=0)
    access(clerk, patient)
    run()
    at(minutes=30)
    access(clerk, patient)
    access(clerk, str(uuid.uuid4()))
    run()
    assert DailyAccessCount.objects.get(user_id=clerk.pk, day=TODAY).distinct_patients == 2

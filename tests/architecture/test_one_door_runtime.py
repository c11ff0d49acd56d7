"""The runtime guard of the one door (tests/one_door.py): a statement on a
clinical table outside the gateway fails, however the code got there."""

from __future__ import annotations

import contextlib
import inspect

import pytest
from django.apps import apps
from django.db import connection

from safeward import one_door as door
from safeward.clinical import gateway
from safeward.clinical.gateway import bulk, fhir_support
from tests import one_door
from tests.clinical.conftest import new_patient

pytestmark = pytest.mark.django_db


def _planted_bypasses():
    yield "ORM", lambda: apps.get_model("clinical", "Patient").objects.count()
    yield "raw SQL", lambda: connection.cursor().execute("SELECT COUNT(*) FROM clinical_encounter")
    yield "a write", lambda: apps.get_model("clinical", "Patient").objects.update(is_vip=False)


@pytest.mark.parametrize(
    ("name", "bypass"), list(_planted_bypasses()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_statement_on_a_clinical_table_outside_the_gateway_fails(name, bypass):
    with pytest.raises(one_door.OneDoorBreach):
        bypass()
    assert one_door.take_breaches()  # remembered too, for code that swallows the exception


def test_a_swallowed_breach_is_still_remembered():
    with contextlib.suppress(Exception):  # the planted bypass hides its failure
        apps.get_model("clinical", "Patient").objects.exists()
    assert len(one_door.take_breaches()) == 1


def test_the_gateway_test_data_and_other_tables_pass():
    patient = new_patient()  # through the gateway
    with one_door.clinical_test_data():
        assert apps.get_model("clinical", "Patient").objects.filter(pk=patient).exists()
    assert apps.get_model("identity", "User").objects.count() >= 0
    assert one_door.take_breaches() == []


def test_an_allowance_held_by_a_fixture_ends_with_its_teardown():
    """A fixture's `with clinical_test_data(): yield` ends inside the teardown
    allowance; the guard must be armed again afterwards (it once stayed off)."""
    held = one_door.clinical_test_data()
    held.__enter__()
    with one_door.tearing_down():
        held.__exit__(None, None, None)
    with pytest.raises(one_door.OneDoorBreach):
        apps.get_model("clinical", "Patient").objects.count()
    one_door.take_breaches()


def _entry_points():
    public = [getattr(gateway, name) for name in gateway.__all__]
    functions = [f for f in public if inspect.isfunction(f)]
    return [*functions, bulk.patients_bulk_create, fhir_support.chart_item_read]


@pytest.mark.parametrize("function", _entry_points(), ids=lambda f: f.__name__)
def test_every_gateway_entry_point_marks_its_extent(function):
    assert getattr(function, "one_door_entry", False), f"{function.__name__} needs @entry (safeward.one_door)"


def test_the_mark_is_the_extent_of_the_call():
    seen = []

    @door.entry
    def inside():
        seen.append(door.current())

    assert door.current() is None
    inside()
    assert door.current() is None
    assert seen == [f"{__name__}.{inside.__qualname__}"]

"""Fixtures for the facilities tests: a site in New York with a records room, a
pharmacy and a nursery, a server room whose door is in Chicago, a records clerk
(position "clerk") and an IT administrator with badges, and builders for door
events and certificates."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.facilities import services
from safeward.facilities.models import Area
from tests.workforce.conftest import catalog, hr, make_person  # noqa: F401 - fixtures

NY = dt.timezone(dt.timedelta(hours=-5))


@pytest.fixture
def site(db):
    return services.site_create(actor=None, name="Main campus", time_zone="America/New_York")


@pytest.fixture
def areas(site):
    def make(code, kind, **extra):
        return services.area_create(
            actor=None,
            site=site,
            code=code,
            name=code.title(),
            kind=kind,
            classification="restricted",
            **extra,
        )

    records = make("records", Area.Kind.RECORDS_ROOM, building="A", floor="B1", room="012")
    pharmacy = make("pharmacy", Area.Kind.PHARMACY)
    nursery = make("nursery", Area.Kind.NURSERY)
    server = make("server", Area.Kind.SERVER_ROOM)
    services.door_create(actor=None, area=records, code="RR-1")
    services.door_create(actor=None, area=pharmacy, code="PH-1")
    services.door_create(actor=None, area=nursery, code="NU-1")
    services.door_create(actor=None, area=server, code="DC-1", time_zone="America/Chicago")
    return {"records": records, "pharmacy": pharmacy, "nursery": nursery, "server": server}


@pytest.fixture
def clerk(make_user, make_person, catalog, areas):  # noqa: F811
    user = make_user("registration_clerk")
    person = make_person(user=user, position=catalog["positions"]["clerk"])
    services.badge_issue(actor=None, credential_id="B-100", person_id=person.pk)
    services.authorisation_grant(
        actor=None,
        area=areas["records"],
        position_code="clerk",
        weekdays="mon,tue,wed,thu,fri",
        start_time=dt.time(7, 0),
        end_time=dt.time(19, 0),
    )
    return person


@pytest.fixture
def admin_person(make_user, make_person, catalog, areas):  # noqa: F811
    user = make_user("it_admin")
    person = make_person(user=user, position=catalog["positions"]["it-admin"])
    services.badge_issue(actor=None, credential_id="B-200", person_id=person.pk)
    # Night shift in the server room: 22:00 to 06:00, Chicago time, Sunday to Thursday nights.
    services.authorisation_grant(
        actor=None,
        area=areas["server"],
        person_id=person.pk,
        weekdays="sun,mon,tue,wed,thu",
        start_time=dt.time(22, 0),
        end_time=dt.time(6, 0),
    )
    return person


def row(credential, door, time, result="granted", direction="in", area=""):
    return {
        "credential_id": credential,
        "door": door,
        "area": area,
        "time": time,
        "result": result,
        "direction": direction,
    }


def ingest(*rows):
    return services.events_ingest(actor=None, rows=list(rows), source="test")


CERTIFICATE = {
    "person_name": "Ida Tech",
    "person_title": "IT technician",
    "person_organisation": "SafeWard General",
    "person_location": "Building A, IT workshop",
    "person_phone": "+1 555 0100",
    "media_make": "Lenovo",
    "media_model": "T14",
    "media_serial": "PF-12345",
    "media_property_number": "LAP-0042",
    "media_type": "SSD",
    "media_source": "ward 3 laptop",
    "classification": "Confidential (PHI)",
    "backed_up": False,
    "method_type": "purge",
    "method": "crypto_erase",
    "tool": "nwipe",
    "tool_version": "0.37",
    "verification": "full",
    "post_classification": "Unclassified",
    "destination": "disposal",
    "standard": "800-88r1",
}

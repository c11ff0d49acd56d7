from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.detection.selectors import rule_config
from safeward.detection.services import rule_config_save
from safeward.fhir import clients as fhir_clients
from safeward.vendors import services
from safeward.vendors.models import Agreement, Vendor
from tests.detection.conftest import START
from tests.fhir.helpers import REDIRECT


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    """Agreement documents are files under VAR_DIR: each test keeps its own, so
    none is left in the checkout's var/ for a later run's key rotation to find
    under a key its keyring never held."""
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def officer(make_user):
    return make_user("privacy_officer")


def make_vendor(officer, name="Scribe Co", **kwargs) -> Vendor:
    return services.vendor_create(
        actor=officer,
        name=name,
        legal_name=f"{name} LLC",
        owner=officer,
        phi_categories=["clinical_notes"],
        phi_volume="medium",
        **kwargs,
    )


def make_agreement(officer, vendor, *, days: int = 365, **kwargs) -> Agreement:
    today = services.today()
    arguments = {
        "kind": "baa",
        "reference": "BAA-1",
        "start_date": today - dt.timedelta(days=30),
        "end_date": today + dt.timedelta(days=days),
        "covers_phi": True,
        **kwargs,
    }
    return services.agreement_create(actor=officer, vendor=vendor, **arguments)


def make_client(make_user, name="Scribe app"):
    admin = make_user("it_admin")
    owner = make_user("physician")
    return fhir_clients.client_register(
        actor=admin,
        name=name,
        owner=owner,
        grant="authorization-code",
        client_type="public",
        scopes="openid fhirUser launch/patient patient/*.rs user/*.rs",
        redirect_uris=REDIRECT,
        expires_at=clock.now() + dt.timedelta(days=900),
    ).registration


BULK_ACCESS = "vendor_bulk_access"


@pytest.fixture
def at(frozen_clock):
    """at(hours=.., minutes=..) moves the clock to detection's test START + that offset."""

    def move(**offset: float):
        frozen_clock._now = START + dt.timedelta(**offset)
        return frozen_clock

    move()
    return move


def bulk_access_params(**params) -> None:
    """Set some of the vendor bulk-access rule's parameters, enabling it."""
    config = rule_config(code=BULK_ACCESS)
    rule_config_save(
        actor=None,
        code=BULK_ACCESS,
        enabled=True,
        severity=config.severity,
        params={**config.params, **params},
    )

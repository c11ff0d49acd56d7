"""The key page: read with crypto:key:read, rotate with crypto:key:manage and a
fresh second factor; linked from the navigation for those who may see it."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import Action
from safeward.crypto.keyring import Purpose
from safeward.crypto.models import DataKey
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def primary_version(purpose=Purpose.DATA):
    return DataKey.objects.get(purpose=purpose, state=DataKey.State.PRIMARY).version


def test_readers_see_status_without_the_rotate_form(signed_in):
    client, _ = signed_in("auditor")
    page = client.get("/crypto/keys/")
    assert page.status_code == 200
    assert b"Encryption keys" in page.content
    assert b"primary" in page.content
    assert b"Rotate" not in page.content
    assert b'href="/crypto/keys/"' in page.content  # navigation link


def test_others_are_refused_and_see_no_link(signed_in):
    client, _ = signed_in("nurse")
    assert client.get("/crypto/keys/").status_code == 403
    assert b'href="/crypto/keys/"' not in client.get("/").content
    assert client.post("/crypto/keys/rotate/", {"purpose": "data"}).status_code == 403


def test_key_reader_without_manage_cannot_rotate(signed_in):
    client, _ = signed_in("it_admin")
    before = primary_version()
    assert client.post("/crypto/keys/rotate/", {"purpose": "data"}).status_code == 403
    assert primary_version() == before


def test_security_officer_rotates_with_fresh_second_factor(signed_in):
    client, officer = signed_in("security_officer")
    page = client.get("/crypto/keys/")
    assert b"Rotate data key" in page.content
    before = primary_version()
    response = client.post("/crypto/keys/rotate/", {"purpose": "data"})
    assert response.status_code == 302
    assert response["Location"] == "/crypto/keys/"
    assert primary_version() == before + 1
    event = AuditEvent.objects.filter(action=Action.KEY_OPERATION, actor_id=officer.pk).get()
    assert event.detail["operation"] == "rotate"
    assert b"is now primary" in client.get("/crypto/keys/").content


def test_rotation_needs_step_up(client, make_user, frozen_clock, settings):
    officer = make_user("security_officer")
    sign_in(client, officer)
    frozen_clock.advance(minutes=settings.SAFEWARD_STEP_UP_MINUTES + 1)
    before = primary_version()
    response = client.post("/crypto/keys/rotate/", {"purpose": "data"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/reauthenticate/")
    assert primary_version() == before


def test_bad_input_and_methods(signed_in):
    client, _ = signed_in("security_officer")
    before = primary_version(Purpose.BLIND_INDEX)
    response = client.post("/crypto/keys/rotate/", {"purpose": "blind_index"})
    assert response.status_code == 302
    assert primary_version(Purpose.BLIND_INDEX) == before
    assert b"Choose data or signing keys" in client.get("/crypto/keys/").content
    assert client.get("/crypto/keys/rotate/").status_code == 405


def test_signing_rotation_from_the_page(signed_in):
    client, _ = signed_in("security_officer")
    before = primary_version(Purpose.SIGNING)
    client.post("/crypto/keys/rotate/", {"purpose": "signing"})
    assert primary_version(Purpose.SIGNING) == before + 1

"""Issue 11 item 6: flash messages after patient actions must not put an MRN
or a lab value into a cookie (a signed cookie is readable by anyone who holds
it), and messages are kept server-side, in the database-backed session."""

from __future__ import annotations

import re
import uuid

import pytest
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import Client, RequestFactory
from django.utils.module_loading import import_string

from safeward.clinical.models import Patient
from tests.clinical.conftest import new_patient, relate
from tests.conftest import sign_in
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db

RESULT_VALUE = "5.93"


@pytest.fixture(autouse=True)
def clinical_zone(settings, tmp_path):
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table

    settings.VAR_DIR = tmp_path
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8"], clinical=True)
    zone_table.clear()


def client_for(make_user, *roles: str) -> tuple[Client, object]:
    user = make_user(*roles)
    client = Client()
    sign_in(client, user)
    return client, user


def cookies_sent(response) -> str:
    """Every cookie as sent, plus the decoded content of a messages cookie
    (compressed, so a value would not show in the raw text)."""
    texts = [morsel.OutputString() for morsel in response.cookies.values()]
    if "messages" in response.cookies:
        storage = CookieStorage(RequestFactory().get("/"))
        decoded = storage._decode(response.cookies["messages"].value)  # type: ignore[attr-defined]  # private, unstubbed
        texts.extend(str(m) for m in decoded or [])
    return " ".join(texts)


def shown_messages(client: Client, path: str) -> str:
    return " ".join(str(m) for m in client.get(path).context["messages"])


def test_message_storage_is_server_side():
    storage = import_string(settings.MESSAGE_STORAGE)
    assert not issubclass(storage, CookieStorage | FallbackStorage), settings.MESSAGE_STORAGE


def test_registering_a_patient_flashes_no_mrn(make_user):
    client, _ = client_for(make_user, "registration_clerk")
    response = client.post(
        "/clinical/patients/new/",
        {
            "submission": uuid.uuid4().hex,
            "given_name": "Ada",
            "family_name": "Quist",
            "birth_date": "1980-02-03",
            "sex": "female",
        },
    )
    assert response.status_code == 302
    patient_id = response.url.rstrip("/").rsplit("/", 1)[-1]
    with clinical_test_data():
        mrn = Patient.objects.get(pk=patient_id).mrn.reveal()
    assert mrn not in cookies_sent(response)
    shown = shown_messages(client, f"/clinical/patients/{patient_id}/")
    assert "Patient registered" in shown
    assert mrn not in shown


def test_recording_a_lab_result_flashes_no_value(make_user):
    patient = new_patient()
    doctor_client, doctor = client_for(make_user, "physician")
    relate(doctor, patient, "care_team")
    body = doctor_client.get(f"/clinical/patients/{patient}/").content.decode()
    form = body[body.index('id="order-form"') :]
    submission = re.search(r'name="submission" value="([0-9a-f]+)"', form).group(1)
    ordered = doctor_client.post(
        f"/clinical/patients/{patient}/orders/", {"submission": submission, "test": "2823-3"}
    )
    assert ordered.status_code == 302

    lab_client, _ = client_for(make_user, "lab_technician")
    page = lab_client.get("/clinical/lab/").content.decode()
    action = re.search(r'action="(/clinical/patients/[0-9a-f-]+/orders/[0-9a-f-]+/result/)"', page).group(1)
    result_token = re.search(r'name="submission" value="([0-9a-f]+)"', page).group(1)
    done = lab_client.post(action, {"submission": result_token, "value": RESULT_VALUE, "unit": "mmol/L"})
    assert done.status_code == 302
    assert RESULT_VALUE not in cookies_sent(done)
    assert "messages" not in done.cookies
    shown = shown_messages(lab_client, "/clinical/lab/")
    assert "Result saved" in shown
    assert RESULT_VALUE not in shown
    assert "Flag: high" in shown  # the worklist still says the result needs attention

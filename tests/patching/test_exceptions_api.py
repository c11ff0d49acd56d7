"""Exceptions over REST: filed on a finding, approved or rejected by a
second person, with the services the pages use. Bad input is a 400 naming
its fields and saves nothing; the requester deciding their own is a 403;
decided, expired or failing is a 409; unknown is a 404. And the finding
page shows the exception standing instead of a form the service refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.patching import services
from safeward.patching.models import RiskException
from tests.api.test_error_shape import assert_error_shape
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db

CONTROL = "patching.inventory_current"


def _client(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _payload(finding, **overrides):
    values = {
        "decision": "reduce",
        "justification": "Heartbeat blocked at the DMZ firewall until the upgrade.",
        "controls": [{"control_id": CONTROL, "resource_id": f"{finding.target_kind}:{finding.target_id}"}],
        "expires_on": (clock.now().date() + dt.timedelta(days=120)).isoformat(),
    }
    values.update(overrides)
    return values


def _file(client, finding, **overrides):
    return client.post(
        f"/api/v1/vulns/findings/{finding.pk}/exceptions/",
        _payload(finding, **overrides),
        content_type="application/json",
    )


def _decide(client, exception_id, verb):
    return client.post(
        f"/api/v1/vulns/exceptions/{exception_id}/{verb}/", {}, content_type="application/json"
    )


def _exception_events():
    return AuditEvent.objects.filter(resource_type=services.EXCEPTION)


def test_filed_over_the_api_then_rejected_and_approved_by_a_second_person(
    engineer, approver, plannable_finding
):
    finding = plannable_finding
    mine, theirs = _client(engineer), _client(approver)

    filed = _file(mine, finding)
    assert filed.status_code == 201, filed.content
    body = filed.json()
    assert body["status"] == "requested"
    assert body["requested_by"] == engineer.username
    assert body["finding"] == finding.pk
    assert body["controls"] == [{"control_id": CONTROL, "resource_id": f"asset:{finding.target_id}"}]
    first = body["id"]
    assert _exception_events().filter(resource_id=str(first), action="create").exists()

    # One at a time: a second request while the first waits is stale.
    again = assert_error_shape(_file(mine, finding), 409)
    assert "already has an exception" in again["detail"]
    assert RiskException.objects.count() == 1

    # The requester may neither reject nor approve their own.
    for verb in ("reject", "approve"):
        own = assert_error_shape(_decide(mine, first, verb), 403)
        assert own == {"detail": "A second person approves: not the one who asked."}
    assert RiskException.objects.get().status == "requested"

    rejected = _decide(theirs, first, "reject")
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["approved_by"] is None
    assert _exception_events().filter(resource_id=str(first), detail__check="rejected").exists()
    for verb in ("reject", "approve"):
        assert "not waiting" in assert_error_shape(_decide(theirs, first, verb), 409)["detail"]
    finding.refresh_from_db()
    assert not finding.excepted

    # Rejected, a new one may be filed; approved, it is in force.
    second = _file(mine, finding).json()["id"]
    approved = _decide(theirs, second, "approve")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == approver.username
    finding.refresh_from_db()
    assert finding.excepted
    assert assert_error_shape(_decide(theirs, second, "reject"), 409)


def test_unknown_findings_and_exceptions_are_404(engineer, approver, plannable_finding):
    mine, theirs = _client(engineer), _client(approver)
    missing = assert_error_shape(
        mine.post(
            "/api/v1/vulns/findings/999999/exceptions/",
            _payload(plannable_finding),
            content_type="application/json",
        ),
        404,
    )
    assert missing == {"detail": "No such record."}
    for verb in ("approve", "reject"):
        assert_error_shape(_decide(theirs, 999_999, verb), 404)
    assert RiskException.objects.count() == 0


LONG_AGO = "2001-01-01"


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        # Refused by the serializer: types, choices, sizes.
        ({"decision": "ignore"}, {"decision"}),
        ({"justification": "  "}, {"justification"}),
        ({"controls": []}, {"controls"}),
        ({"controls": [{"control_id": CONTROL}]}, {"controls"}),
        ({"controls": [{"control_id": CONTROL, "resource_id": "asset:1"}] * 11}, {"controls"}),
        ({"expires_on": "next spring"}, {"expires_on"}),
        # Refused by the service the page calls, named by field all the same.
        ({"expires_on": LONG_AGO}, {"expires_on"}),
        ({"expires_on": "+400"}, {"expires_on"}),
        ({"controls": [{"control_id": CONTROL, "resource_id": "asset:999999"}]}, {"controls"}),
        ({"controls": [{"control_id": "no.such.control", "resource_id": "asset:1"}]}, {"controls"}),
        (
            {
                "expires_on": LONG_AGO,
                "controls": [{"control_id": "no.such.control", "resource_id": "asset:1"}],
            },
            {"expires_on", "controls"},
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_fields_and_nothing_is_saved(
    engineer, plannable_finding, overrides, fields
):
    if overrides.get("expires_on") == "+400":
        overrides = {**overrides, "expires_on": (clock.now().date() + dt.timedelta(days=400)).isoformat()}
    body = assert_error_shape(_file(_client(engineer), plannable_finding, **overrides), 400)
    assert set(body["errors"]) == fields, body
    assert all(isinstance(message, str) and message for message in body["errors"].values())
    assert not RiskException.objects.exists()
    assert not _exception_events().exists()


def test_a_body_that_is_not_an_object_is_a_400(engineer, plannable_finding):
    response = _client(engineer).post(
        f"/api/v1/vulns/findings/{plannable_finding.pk}/exceptions/",
        "[1, 2]",
        content_type="application/json",
    )
    assert_error_shape(response, 400)
    assert not RiskException.objects.exists()


def test_a_control_failing_now_cannot_compensate_nor_be_approved(
    engineer, approver, plannable_finding, monkeypatch
):
    """The inventory control fails once the inventory is over 90 days old: filing
    then is bad input (400 on `controls`); approving a request whose control failed
    in the queue, or that expired there, is stale (409), and nothing changes."""
    exception_id = _file(_client(engineer), plannable_finding).json()["id"]
    later = clock.now() + dt.timedelta(days=91)
    monkeypatch.setattr(clock, "now", lambda: later)
    # Signed in after the clock moved: sessions end when idle.
    mine, theirs = _client(engineer), _client(approver)
    stale = assert_error_shape(_decide(theirs, exception_id, "approve"), 409)
    assert stale["detail"] == "The exception cannot be approved."
    assert any("does not pass" in reason for reason in stale["errors"])
    assert RiskException.objects.get().status == "requested"
    _decide(theirs, exception_id, "reject")
    refused = assert_error_shape(_file(mine, plannable_finding), 400)
    assert "cannot compensate" in refused["errors"]["controls"]
    assert RiskException.objects.count() == 1


def test_a_request_that_expired_in_the_queue_is_a_409(engineer, approver, plannable_finding, monkeypatch):
    short = (clock.now().date() + dt.timedelta(days=2)).isoformat()
    exception_id = _file(_client(engineer), plannable_finding, expires_on=short).json()["id"]
    later = clock.now() + dt.timedelta(days=3)
    monkeypatch.setattr(clock, "now", lambda: later)
    stale = assert_error_shape(_decide(_client(approver), exception_id, "approve"), 409)
    assert any("expired" in reason for reason in stale["errors"])
    assert not RiskException.objects.filter(status="approved").exists()


def test_the_pages_permissions_hold_over_the_api(approver, plannable_finding):
    """Filing needs triage (the compliance officer approves, does not file);
    deciding needs approval (an IT administrator triages, does not decide)."""
    assert_error_shape(_file(_client(approver), plannable_finding), 403)
    assert not RiskException.objects.exists()
    it_admin = UserFactory(roles=["it_admin"], totp_secret=True)
    filed = _file(_client(it_admin), plannable_finding)
    assert filed.status_code == 201
    exception_id = filed.json()["id"]
    for verb in ("approve", "reject"):
        assert_error_shape(_decide(_client(it_admin), exception_id, verb), 403)
    assert RiskException.objects.get().status == "requested"


def test_a_token_needs_the_write_scope_to_file_or_decide(engineer, approver, plannable_finding):
    client = Client()
    url = f"/api/v1/vulns/findings/{plannable_finding.pk}/exceptions/"
    reader = bearer(token(engineer, "read"))
    response = client.post(url, _payload(plannable_finding), content_type="application/json", **reader)
    assert_error_shape(response, 403)
    writer = bearer(token(engineer, "read write"))
    filed = client.post(url, _payload(plannable_finding), content_type="application/json", **writer)
    assert filed.status_code == 201
    exception_id = filed.json()["id"]
    reject = f"/api/v1/vulns/exceptions/{exception_id}/reject/"
    assert_error_shape(client.post(reject, **bearer(token(approver, "read"))), 403)
    assert client.post(reject, **bearer(token(approver, "read write"))).status_code == 200


# --- the finding page --------------------------------------------------------------------------


def test_the_finding_page_shows_the_standing_exception_instead_of_the_form(
    engineer, approver, plannable_finding, monkeypatch
):
    page = f"/vulns/findings/{plannable_finding.pk}/"
    mine, theirs = _client(engineer), _client(approver)

    def shown() -> str:
        response = mine.get(page)
        assert response.status_code == 200
        return response.content.decode()

    assert 'id="exception-form"' in shown()
    assert 'id="standing-exception"' not in shown()

    exception_id = _file(mine, plannable_finding).json()["id"]
    waiting = shown()
    assert 'id="exception-form"' not in waiting
    assert "Exception awaiting approval" in waiting
    assert "Heartbeat blocked at the DMZ firewall" in waiting

    _decide(theirs, exception_id, "approve")
    in_force = shown()
    assert 'id="exception-form"' not in in_force
    assert "Exception in force" in in_force
    assert f"approved by {approver.username}" in in_force

    # Ended (voided by the evaluation once its control fails), the form is back.
    later = clock.now() + dt.timedelta(days=91)
    monkeypatch.setattr(clock, "now", lambda: later)
    services.exceptions_evaluate()
    assert RiskException.objects.get().status == "voided"
    mine = _client(engineer)  # sessions end when idle
    back = shown()
    assert 'id="exception-form"' in back
    assert 'id="standing-exception"' not in back


def test_a_refused_second_filing_on_the_page_shows_the_standing_one(engineer, plannable_finding):
    client = _client(engineer)
    _file(client, plannable_finding)
    response = client.post(
        f"/vulns/findings/{plannable_finding.pk}/exception/",
        {
            "exception-decision": "accept",
            "exception-justification": "Again.",
            "exception-control": CONTROL,
            "exception-resource": f"asset:{plannable_finding.target_id}",
            "exception-expires_on": (clock.now().date() + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "already has an exception" in content
    assert 'id="standing-exception"' in content
    assert RiskException.objects.count() == 1

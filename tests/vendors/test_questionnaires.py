"""The security questionnaire through a single-use link (ADR 1213): only the
token's hash is kept; the vendor answers without an account; answers and
encrypted, hashed evidence are stored with the score and tier computed from
them; the link works once and expires; tampered, expired and used links get
a clear 4xx page and an audit event; a second person signs the review off;
bad input stores nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.vendors import link_code, questionnaires, questions
from safeward.vendors.models import Questionnaire, QuestionnaireEvidence
from safeward.vendors.services import VendorError
from tests.conftest import sign_in
from tests.vendors.conftest import make_agreement, make_vendor

pytestmark = pytest.mark.django_db

LINK = "https://safeward.example/vendors/answer/{}/"


def _send(officer, vendor, **kwargs):
    arguments = {"contact_name": "Dana Vendor", "contact_email": "dana@vendor.example", **kwargs}
    return questionnaires.questionnaire_send(actor=officer, vendor=vendor, link_for=LINK.format, **arguments)


def _token(sent) -> str:
    return sent.link.rstrip("/").rsplit("/", 1)[1]


def _pass(token: str) -> str:
    """What a browser holds after entering the e-mailed code (ADR 1214)."""
    questionnaire = questionnaires.questionnaire_by_token(token=token)
    mail_box: list[str] = []
    link_code.code_send(questionnaire=questionnaire, outbox=mail_box)
    (code,) = re.findall(r"\b\d{6}\b", mail_box[0])
    return link_code.code_verify(questionnaire=questionnaire, code=code)


def opened(token: str) -> Client:
    """A browser that opened the link and entered the code it was e-mailed."""
    page = Client()
    assert page.get(f"/vendors/answer/{token}/").status_code == 200
    (code,) = re.findall(r"\b\d{6}\b", str(mail.outbox[-1].body))
    assert page.post(f"/vendors/answer/{token}/", {"step": "code", "code": code}).status_code == 302
    return page


def _answers(score: int = 2, **override: int) -> dict[str, str]:
    data = {f"answer_{q.code}": str(score) for q in questions.QUESTIONS}
    data.update({f"answer_{code.replace('_', '-')}": str(value) for code, value in override.items()})
    return data


def _refusals() -> list[str]:
    return [
        e.detail["reason"]
        for e in AuditEvent.objects.filter(resource_type=questionnaires.RESOURCE, action="access_denied")
    ]


@pytest.fixture
def vendor(officer):
    vendor = make_vendor(officer)
    make_agreement(officer, vendor)
    return vendor


def test_send_keeps_only_the_hash_and_mails_the_link_once(officer, vendor):
    sent = _send(officer, vendor)
    token = _token(sent)
    assert len(token) >= 43  # 32 random bytes
    stored = Questionnaire.objects.get()
    assert stored.token_sha256 == questionnaires.token_hash(token) != token
    assert token not in str(Questionnaire.objects.values().get())
    (message,) = mail.outbox
    assert message.to == ["dana@vendor.example"]
    assert sent.link in message.body
    event = AuditEvent.objects.get(resource_type=questionnaires.RESOURCE)
    assert event.detail["event"] == "questionnaire_sent"
    assert token not in str(event.detail)


def test_the_vendor_answers_without_an_account_once(officer, vendor, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    token = _token(_send(officer, vendor))
    page = opened(token)
    assert b"Submit the answers" in page.get(f"/vendors/answer/{token}/").content
    evidence = SimpleUploadedFile(
        "mfa-policy.pdf", b"%PDF-1.4 our MFA policy", content_type="application/pdf"
    )
    response = page.post(f"/vendors/answer/{token}/", {**_answers(3), "evidence_pr-1": evidence})
    assert response.status_code == 200
    assert b"Thank you" in response.content
    stored = Questionnaire.objects.get()
    assert stored.status == "answered"
    assert stored.answers["pr-1"] == {"score": 3, "comment": ""}
    assert stored.score == 100
    assert stored.tier == "low"  # inherent moderate (medium volume, clinical notes), one step down at 100 %
    (file,) = QuestionnaireEvidence.objects.all()
    on_disk = next((tmp_path / "vendors" / "questionnaire-evidence").iterdir()).read_bytes()
    assert b"MFA policy" not in on_disk  # encrypted
    _, content = questionnaires.evidence_open(actor=officer, evidence_id=file.pk)
    assert content == b"%PDF-1.4 our MFA policy"
    # The link is used up: the page says so, and the refusal is audited.
    again = page.get(f"/vendors/answer/{token}/")
    assert again.status_code == 410
    assert b"already been answered" in again.content
    assert page.post(f"/vendors/answer/{token}/", _answers(0)).status_code == 410
    assert Questionnaire.objects.get().score == 100
    assert _refusals() == ["used", "used"]


def test_an_expired_link_is_refused_and_audited(officer, vendor, frozen_clock):
    token = _token(_send(officer, vendor, days=3))
    frozen_clock._now += dt.timedelta(days=3)
    response = Client().get(f"/vendors/answer/{token}/")
    assert response.status_code == 410
    assert b"expired" in response.content
    with pytest.raises(questionnaires.LinkRefused):
        questionnaires.questionnaire_answer(token=token, pass_token=None, data=_answers())
    assert Questionnaire.objects.get().status == "sent"
    assert _refusals() == ["expired", "expired"]


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t[:20], lambda t: "x" * 200]
)
def test_a_tampered_link_is_refused_and_audited(officer, vendor, mangle):
    token = _token(_send(officer, vendor))
    response = Client().get(f"/vendors/answer/{mangle(token)}/")
    assert response.status_code == 404
    assert b"not valid" in response.content
    assert _refusals() == ["unknown"]


def test_bad_answers_store_nothing_and_keep_the_link(officer, vendor, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    token = _token(_send(officer, vendor))
    page = opened(token)
    missing = _answers()
    del missing["answer_rs-1"]
    for data, field in (
        (missing, b"Choose an answer from 0 to 3"),
        ({**_answers(), "answer_pr-1": "4"}, b"Choose an answer from 0 to 3"),
        ({**_answers(), "answer_pr-1": "two"}, b"Choose an answer from 0 to 3"),
        ({**_answers(), "comment_gv-1": "x" * 1001}, b"At most 1000 characters"),
    ):
        response = page.post(f"/vendors/answer/{token}/", data)
        assert response.status_code == 400
        assert field in response.content
    wrong_type = SimpleUploadedFile("run.exe", b"MZ", content_type="application/x-msdownload")
    response = page.post(f"/vendors/answer/{token}/", {**_answers(), "evidence_pr-1": wrong_type})
    assert response.status_code == 400
    empty = SimpleUploadedFile("empty.pdf", b"", content_type="application/pdf")
    assert page.post(f"/vendors/answer/{token}/", {**_answers(), "evidence_pr-1": empty}).status_code == 400
    stored = Questionnaire.objects.get()
    assert (stored.status, stored.answers, stored.score) == ("sent", {}, None)
    assert not QuestionnaireEvidence.objects.exists()
    assert not list((tmp_path / "vendors" / "questionnaire-evidence").glob("*.swf"))
    assert page.post(f"/vendors/answer/{token}/", _answers()).status_code == 200


def test_the_link_works_once_even_when_two_answers_race(officer, vendor):
    token = _token(_send(officer, vendor))
    first = questionnaires.questionnaire_by_token(token=token)
    pass_token = _pass(token)
    questionnaires.questionnaire_answer(token=token, pass_token=pass_token, data=_answers(1))
    # A second submission that opened the page before the first was stored finds the link used.
    Questionnaire.objects.filter(pk=first.pk).update(status="sent")  # as the racing request saw it
    Questionnaire.objects.filter(pk=first.pk).update(status="answered")
    with pytest.raises(questionnaires.LinkRefused) as refused:
        questionnaires.questionnaire_answer(token=token, pass_token=pass_token, data=_answers(3))
    assert refused.value.status == 410
    assert Questionnaire.objects.get().answers["gv-1"]["score"] == 1


@pytest.mark.parametrize(
    ("scores", "inherent", "expected"),
    [
        ({}, "moderate", (67, "moderate")),
        ({"all": 3}, "moderate", (100, "low")),
        ({"all": 3, "pr-1": 0}, "moderate", (85, "high")),
        ({"all": 1}, "moderate", (33, "high")),
        ({"all": 0}, "high", (0, "critical")),
        ({"all": 3}, "low", (100, "low")),
    ],
)
def test_score_and_tier_from_the_answers(scores, inherent, expected):
    base = scores.get("all", 2)
    answers = {q.code: {"score": scores.get(q.code, base), "comment": ""} for q in questions.QUESTIONS}
    assert questionnaires.assess(answers, inherent) == expected


def test_a_second_person_signs_the_review_off(officer, vendor, make_user, client):
    token = _token(_send(officer, vendor))
    questionnaire = Questionnaire.objects.get()
    reviewer = make_user("privacy_officer")
    with pytest.raises(VendorError, match="answered"):
        questionnaires.questionnaire_sign_off(actor=reviewer, questionnaire_id=questionnaire.pk)
    questionnaires.questionnaire_answer(token=token, pass_token=_pass(token), data=_answers())
    with pytest.raises(VendorError, match="second person"):
        questionnaires.questionnaire_sign_off(actor=officer, questionnaire_id=questionnaire.pk)
    sign_in(client, officer)
    response = client.post(f"/vendors/questionnaires/{questionnaire.pk}/sign-off/", {"note": "ok"})
    assert response.status_code == 409
    sign_in(client, reviewer)
    assert (
        client.post(f"/vendors/questionnaires/{questionnaire.pk}/sign-off/", {"note": "x" * 501}).status_code
        == 400
    )
    response = client.post(
        f"/vendors/questionnaires/{questionnaire.pk}/sign-off/", {"note": "Reviewed the MFA evidence."}
    )
    assert response.status_code == 302
    stored = Questionnaire.objects.get()
    assert (stored.status, stored.reviewed_by_id) == ("signed_off", reviewer.pk)
    event = AuditEvent.objects.filter(resource_type=questionnaires.RESOURCE).last()
    assert (event.detail["event"], event.actor_id) == ("questionnaire_signed_off", reviewer.pk)


def test_the_send_page_shows_the_link_once_and_refuses_bad_input(officer, vendor, client):
    sign_in(client, officer)
    assert client.get(f"/vendors/{vendor.pk}/questionnaires/new/").status_code == 200
    for data in (
        {"contact_name": "", "contact_email": "dana@vendor.example", "days": "14"},
        {"contact_name": "Dana", "contact_email": "not-an-address", "days": "14"},
        {"contact_name": "Dana", "contact_email": "dana@vendor.example", "days": "31"},
        {"contact_name": "Dana", "contact_email": "dana@vendor.example", "days": "0"},
    ):
        assert client.post(f"/vendors/{vendor.pk}/questionnaires/new/", data).status_code == 400
    assert not Questionnaire.objects.exists()
    response = client.post(
        f"/vendors/{vendor.pk}/questionnaires/new/",
        {"contact_name": "Dana", "contact_email": "dana@vendor.example", "days": "14"},
    )
    assert response.status_code == 200
    link = re.search(rb'value="(https?://[^"]+/vendors/answer/[^"]+/)"', response.content).group(1).decode()
    assert Client().get(link.split("testserver", 1)[1]).status_code == 200
    questionnaire = Questionnaire.objects.get()
    assert client.get(f"/vendors/questionnaires/{questionnaire.pk}/").status_code == 200
    assert link.encode() not in client.get(f"/vendors/questionnaires/{questionnaire.pk}/").content
    assert client.get("/vendors/questionnaires/").status_code == 200


def test_send_refuses_bad_input_and_inactive_vendors(officer, vendor, make_user):
    for kwargs, field in (
        ({"contact_name": " "}, "contact_name"),
        ({"contact_email": "nobody"}, "contact_email"),
        ({"days": 0}, "days"),
        ({"days": 31}, "days"),
    ):
        with pytest.raises(VendorError) as refused:
            _send(officer, vendor, **kwargs)
        assert field in refused.value.message_dict
    with pytest.raises(VendorError):
        _send(make_user("nurse"), vendor)
    vendor.status = "suspended"
    vendor.save(update_fields=["status"])
    with pytest.raises(VendorError) as refused:
        _send(officer, vendor)
    assert "vendor" in refused.value.message_dict
    assert not Questionnaire.objects.exists()
    assert clock.now()  # the clock was not moved


def test_rest_send_list_and_sign_off(officer, vendor, make_user, client):
    sign_in(client, officer)
    url = f"/api/v1/vendors/{vendor.pk}/questionnaires/"
    bad = client.post(url, {"contact_name": "Dana", "contact_email": "nope"}, content_type="application/json")
    assert bad.status_code == 400
    assert "contact_email" in bad.json()["errors"]
    too_long = {"contact_name": "Dana", "contact_email": "dana@vendor.example", "days": 90}
    assert client.post(url, too_long, content_type="application/json").status_code == 400
    assert not Questionnaire.objects.exists()
    response = client.post(
        url, {"contact_name": "Dana", "contact_email": "dana@vendor.example"}, content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    token = body["link"].rstrip("/").rsplit("/", 1)[1]
    assert body["questionnaire"]["status"] == "sent"
    assert "token" not in str(client.get("/api/v1/vendors/questionnaires/").json())
    questionnaires.questionnaire_answer(token=token, pass_token=_pass(token), data=_answers(2))
    (listed,) = client.get("/api/v1/vendors/questionnaires/").json()
    assert (listed["status"], listed["score"], listed["tier"]) == ("answered", 67, "moderate")
    sign_off = f"/api/v1/vendors/questionnaires/{listed['id']}/sign-off/"
    assert client.post(sign_off, {}, content_type="application/json").status_code == 400  # the sender
    reviewer = Client()
    sign_in(reviewer, make_user("compliance_officer"))
    assert reviewer.post(sign_off, {"note": "x" * 501}, content_type="application/json").status_code == 400
    signed = reviewer.post(sign_off, {"note": "fine"}, content_type="application/json")
    assert signed.status_code == 200
    assert signed.json()["status"] == "signed_off"


def test_cli_sends_and_lists(officer, vendor):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "vendors",
        "questionnaire-send",
        vendor.name,
        "--name",
        "Dana",
        "--email",
        "dana@vendor.example",
        "--base-url",
        "https://safeward.example/",
        stdout=out,
    )
    link = out.getvalue().strip().splitlines()[-1]
    assert link.startswith("https://safeward.example/vendors/answer/")
    assert Client().get(link.removeprefix("https://safeward.example")).status_code == 200
    for arguments in (
        ["No such vendor", "--name", "D", "--email", "d@vendor.example", "--base-url", "https://x"],
        [vendor.name, "--name", "D", "--email", "d@vendor.example", "--base-url", "ftp://x"],
        [vendor.name, "--name", "D", "--email", "nope", "--base-url", "https://x"],
        [
            vendor.name,
            "--name",
            "D",
            "--email",
            "d@vendor.example",
            "--base-url",
            "https://x",
            "--days",
            "99",
        ],
    ):
        with pytest.raises(CommandError):
            call_command("vendors", "questionnaire-send", *arguments)
    assert Questionnaire.objects.count() == 1
    out = StringIO()
    call_command("vendors", "questionnaires", stdout=out)
    assert vendor.name in out.getvalue()
    assert "open" in out.getvalue()

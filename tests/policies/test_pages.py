"""The policy library's pages: the whole lifecycle through the forms, bad
input on every form (a clear 4xx, nothing saved), the PDF download that
verifies its hash, the diff between revisions and a campaign's progress."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from safeward.audit.models import AuditEvent
from safeward.policies.models import AcknowledgementCampaign, PolicyDocument, PolicyRevision
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.policies.conftest import AUP_TEXT, new_document, publish

pytestmark = pytest.mark.django_db


def _client(client_class, user):
    client = client_class()
    sign_in(client, user)
    return client


def test_the_lifecycle_through_the_pages(client, django_user_model, officer, approver, frozen_clock):
    from django.test import Client

    writer = _client(Client, officer)
    response = writer.post(
        "/policies/new/",
        {"code": "acceptable-use", "title": "Acceptable use", "kind": "policy", "owner": officer.pk,
         "review_period_days": 365, "roles": ["nurse", "physician"]},
    )  # fmt: skip
    document = PolicyDocument.objects.get(code="acceptable-use")
    assert response["Location"] == f"/policies/{document.pk}/revisions/new/"
    writer.post(f"/policies/{document.pk}/revisions/new/", {"body": AUP_TEXT, "change_summary": "First"})
    revision = PolicyRevision.objects.get(document=document)
    writer.post(f"/policies/revisions/{revision.pk}/submit/")
    refused = writer.post(f"/policies/revisions/{revision.pk}/approve/")
    assert refused.status_code == 409
    assert b"cannot approve their own" in refused.content
    reviewer = _client(Client, approver)
    page = reviewer.get(f"/policies/revisions/{revision.pk}/")
    assert b'id="approve"' in page.content
    reviewer.post(f"/policies/revisions/{revision.pk}/approve/")
    published = writer.post(f"/policies/revisions/{revision.pk}/publish/")
    assert published["Location"] == f"/policies/{document.pk}/campaigns/new/"
    revision.refresh_from_db()
    assert revision.state == "published"
    started = writer.post(
        f"/policies/{document.pk}/campaigns/new/", {"roles": ["nurse"], "due_on": "2026-11-30", "name": ""}
    )
    campaign = AcknowledgementCampaign.objects.get()
    assert started["Location"] == f"/policies/campaigns/{campaign.pk}/"
    nurse = UserFactory(roles=["nurse"], totp_secret=True, first_name="Ada", last_name="Quist")
    progress = writer.get(f"/policies/campaigns/{campaign.pk}/")
    assert b"0 of 1" in progress.content
    assert b"Ada Quist" in progress.content
    reader = _client(Client, nurse)
    reader.post(f"/policies/acknowledge/{revision.pk}/", {"understood": "yes"})
    assert b"1 of 1" in writer.get(f"/policies/campaigns/{campaign.pk}/").content
    assert b"Acceptable use" in reader.get("/policies/mine/").content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, b"This field is required"),
        ({"code": "bad code!", "title": "T", "kind": "policy", "review_period_days": 365}, b"valid"),
        ({"code": "ok", "title": "T", "kind": "memo", "review_period_days": 365}, b"Select a valid choice"),
        (
            {"code": "ok", "title": "T", "kind": "policy", "review_period_days": 5},
            b"greater than or equal to 30",
        ),
        ({"code": "ok", "title": "T", "kind": "policy", "review_period_days": "x"}, b"whole number"),
        (
            {"code": "ok", "title": "T", "kind": "policy", "review_period_days": 365, "roles": ["surgeon"]},
            b"valid",
        ),
    ],
)
def test_bad_document_input_is_refused_and_nothing_saved(client, officer, data, message):
    sign_in(client, officer)
    response = client.post("/policies/new/", {"owner": officer.pk, **data})
    assert response.status_code == 400
    assert message in response.content
    assert not PolicyDocument.objects.exists()


def test_bad_revision_review_campaign_and_acknowledgement_input(frozen_clock, client, officer, approver, aup):
    sign_in(client, officer)
    for body in ("", "   ", "x" * 200_001, "a \x00 b"):
        response = client.post(f"/policies/{aup.pk}/revisions/new/", {"body": body})
        assert response.status_code == 400
    assert PolicyRevision.objects.filter(document=aup).count() == 1
    assert client.post(f"/policies/{aup.pk}/review/", {"note": ""}).status_code == 400
    for data in (
        {"roles": ["nurse"], "due_on": "2020-01-01"},
        {"roles": ["nurse"], "due_on": "not a date"},
        {"roles": [], "positions": [], "due_on": "2026-12-01"},
        {"roles": ["wizard"], "due_on": "2026-12-01"},
        {"roles": ["nurse"], "due_on": "2030-01-01"},
    ):
        assert client.post(f"/policies/{aup.pk}/campaigns/new/", data).status_code == 400
    assert not AcknowledgementCampaign.objects.exists()
    reject = UserFactory(roles=["privacy_officer"], totp_secret=True)
    revision = publish(officer, approver, aup, body=AUP_TEXT + "\nMore.")
    sign_in(client, reject)
    assert client.post(f"/policies/revisions/{revision.pk}/reject/", {"reason": ""}).status_code == 400
    again = client.post(f"/policies/revisions/{revision.pk}/publish/")  # published already
    assert again.status_code == 409
    assert b"Only an approved revision" in again.content
    assert client.get(f"/policies/revisions/{revision.pk}/?against=abc").status_code == 400


def test_drafts_are_hidden_from_readers_and_the_library_lists_only_published(client, officer, approver, aup):
    draft = PolicyRevision.objects.create(
        document=aup,
        number=2,
        body="draft",
        author=officer,
        created_at=aup.created_at,
        updated_at=aup.created_at,
    )
    unpublished = new_document(officer, code="secret-draft")
    sign_in(client, UserFactory(roles=["nurse"], totp_secret=True))
    assert client.get(f"/policies/revisions/{draft.pk}/").status_code == 404
    assert client.get(f"/policies/{unpublished.pk}/").status_code == 404
    library = client.get("/policies/")
    assert b"Acceptable use" in library.content
    assert b"Secret draft" not in library.content


def test_the_pdf_download_verifies_its_hash_and_a_tampered_one_is_refused(client, aup):
    sign_in(client, UserFactory(roles=["nurse"], totp_secret=True))
    revision = PolicyRevision.objects.get(pk=aup.current_revision_id)
    response = client.get(f"/policies/revisions/{revision.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert hashlib.sha256(response.content).hexdigest() == revision.pdf_sha256
    PolicyRevision.objects.filter(pk=revision.pk).update(pdf=bytes(revision.pdf).replace(b"%PDF", b"%PDX", 1))
    refused = client.get(f"/policies/revisions/{revision.pk}/pdf/")
    assert refused.status_code == 409
    assert b'id="tampered"' in refused.content
    event = AuditEvent.objects.filter(resource_type="PolicyRevision", outcome="error").get()
    assert event.detail == {"snapshot": "pdf", "verified": False}


def test_the_revision_page_shows_the_diff_and_the_text_escaped(client, officer, approver, aup):
    revision = publish(officer, approver, aup, body=AUP_TEXT + "\n<script>alert(1)</script>\n")
    sign_in(client, UserFactory(roles=["nurse"], totp_secret=True))
    page = client.get(f"/policies/revisions/{revision.pk}/")
    assert b'<div class="added">&lt;script&gt;alert(1)&lt;/script&gt;</div>' in page.content
    assert b"<script>alert(1)" not in page.content


def test_bad_edits_of_a_document_are_refused_and_nothing_changes(client, officer, aup):
    sign_in(client, officer)
    for data in (
        {"title": "", "kind": "policy", "owner": officer.pk, "review_period_days": 365},
        {"title": "New", "kind": "policy", "owner": 999_999, "review_period_days": 365},
        {"title": "New", "kind": "policy", "owner": officer.pk, "review_period_days": 5000},
        {
            "title": "New",
            "kind": "policy",
            "owner": officer.pk,
            "review_period_days": 365,
            "positions": ["x"],
        },
    ):
        assert client.post(f"/policies/{aup.pk}/edit/", data).status_code == 400
    aup.refresh_from_db()
    assert aup.title == "Acceptable use policy"
    assert aup.review_period_days == 365
    saved = client.post(
        f"/policies/{aup.pk}/edit/",
        {"title": "Acceptable use", "kind": "policy", "owner": officer.pk, "review_period_days": 180,
         "roles": ["nurse", "physician"]},
    )  # fmt: skip
    assert saved.status_code == 302
    aup.refresh_from_db()
    assert aup.review_period_days == 180
    assert set(aup.requirements.values_list("code", flat=True)) == {"nurse", "physician"}
    # The published text keeps its hash: the title is not part of it.
    assert client.get(f"/policies/revisions/{aup.current_revision_id}/pdf/").status_code == 200


def test_a_campaign_is_due_at_the_end_of_the_hospitals_day(frozen_clock, aup, officer, client, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # SAFEWARD_TIME_ZONE
    sign_in(client, officer)
    client.post(
        f"/policies/{aup.pk}/campaigns/new/", {"roles": ["nurse"], "due_on": "2026-11-30", "name": ""}
    )
    campaign = AcknowledgementCampaign.objects.get()
    assert campaign.due_at == dt.datetime(2026, 11, 30, 22, 59, tzinfo=dt.UTC)  # 23:59 in Berlin
    assert b"due 2026-11-30" in client.get(f"/policies/campaigns/{campaign.pk}/").content

"""The revision lifecycle: draft -> in review -> approved by a second person
-> published -> retired; hashes and the PDF snapshot; refusals leave nothing
half-done."""

from __future__ import annotations

import hashlib

import pytest

from safeward.audit.models import AuditEvent
from safeward.policies import selectors, services, text
from safeward.policies.models import PolicyDocument, PolicyRevision
from tests.factories import UserFactory
from tests.policies.conftest import AUP_TEXT, new_document, publish

pytestmark = pytest.mark.django_db


def test_a_revision_goes_through_every_state_and_publishing_retires_the_previous(officer, approver):
    document = new_document(officer)
    first = publish(officer, approver, document)
    assert first.state == PolicyRevision.State.PUBLISHED
    assert first.content_sha256 == text.content_sha256(code=document.code, number=1, body=first.body)
    assert bytes(first.pdf).startswith(b"%PDF")
    assert first.pdf_sha256 == hashlib.sha256(bytes(first.pdf)).hexdigest()
    second = publish(officer, approver, document, body=AUP_TEXT + "\n- Report lost badges at once.\n")
    first.refresh_from_db()
    document.refresh_from_db()
    assert first.state == PolicyRevision.State.RETIRED
    assert first.retired_at is not None
    assert document.current_revision_id == second.pk
    assert second.number == 2
    assert document.last_reviewed_at == second.published_at
    states = [e.detail.get("to") for e in AuditEvent.objects.filter(resource_type="PolicyRevision")]
    assert states.count("published") == 2
    assert "retired" in states


def test_the_author_cannot_approve_their_own_revision(officer, approver):
    document = new_document(officer)
    revision = services.revision_draft(actor=officer, document_id=document.pk, body=AUP_TEXT)
    services.revision_submit(actor=officer, revision_id=revision.pk)
    with pytest.raises(services.PolicyError, match="cannot approve their own"):
        services.revision_approve(actor=officer, revision_id=revision.pk)
    revision.refresh_from_db()
    assert revision.state == PolicyRevision.State.IN_REVIEW
    assert revision.approved_by is None
    with pytest.raises(services.PolicyError, match="Only an approved revision"):
        services.revision_publish(actor=officer, revision_id=revision.pk)
    nurse = UserFactory(roles=["nurse"])
    with pytest.raises(services.PolicyError, match="may not approve"):
        services.revision_approve(actor=nurse, revision_id=revision.pk)


def test_send_back_needs_a_reason_and_returns_the_revision_to_draft(officer, approver):
    document = new_document(officer)
    revision = services.revision_draft(actor=officer, document_id=document.pk, body=AUP_TEXT)
    services.revision_submit(actor=officer, revision_id=revision.pk)
    with pytest.raises(services.PolicyError, match="Say why"):
        services.revision_reject(actor=approver, revision_id=revision.pk, reason="  ")
    services.revision_reject(actor=approver, revision_id=revision.pk, reason="Name the security officer.")
    revision.refresh_from_db()
    assert revision.state == PolicyRevision.State.DRAFT
    assert revision.rejection_reason == "Name the security officer."
    services.revision_edit(
        actor=officer, revision_id=revision.pk, body=AUP_TEXT + "\nAsk the security officer."
    )


def test_one_open_revision_at_a_time_and_bad_text_is_refused(officer, approver):
    document = new_document(officer)
    services.revision_draft(actor=officer, document_id=document.pk, body=AUP_TEXT)
    with pytest.raises(services.PolicyError, match="already has a revision in progress"):
        services.revision_draft(actor=officer, document_id=document.pk, body=AUP_TEXT)
    other = new_document(officer, code="backup")
    for body, message in (("   \n ", "empty"), ("bell \x07 text", "control characters")):
        with pytest.raises(services.PolicyError, match=message):
            services.revision_draft(actor=officer, document_id=other.pk, body=body)
    assert not PolicyRevision.objects.filter(document=other).exists()
    with pytest.raises(services.PolicyError, match="exists"):
        new_document(officer, code="backup")
    assert PolicyDocument.objects.filter(code="backup").count() == 1


def test_the_text_is_rendered_escaped():
    html = text.render("# Title <b>\n\n<script>alert(1)</script> and **bold**\n- item <i>")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<h3>Title &lt;b&gt;</h3>" in html
    assert "<strong>bold</strong>" in html
    assert "<li>item &lt;i&gt;</li>" in html
    assert text.render("- one\n  more\n- two") == "<ul><li>one more</li><li>two</li></ul>"


def test_the_diff_shows_added_and_removed_lines():
    rows = text.diff("a\nb\nc", "a\nB\nc\nd")
    assert [(r.kind, r.text) for r in rows] == [
        ("same", "a"),
        ("removed", "b"),
        ("added", "B"),
        ("same", "c"),
        ("added", "d"),
    ]


def test_a_tampered_snapshot_or_text_does_not_verify(aup):
    revision_id = aup.current_revision_id
    assert selectors.revision_snapshot_verify(revision_id=revision_id).verified
    revision = PolicyRevision.objects.get(pk=revision_id)
    PolicyRevision.objects.filter(pk=revision_id).update(pdf=bytes(revision.pdf) + b"%tampered")
    snapshot = selectors.revision_snapshot_verify(revision_id=revision_id)
    assert not snapshot.verified
    assert "PDF snapshot" in snapshot.problem
    PolicyRevision.objects.filter(pk=revision_id).update(pdf=revision.pdf, body=revision.body + " (edited)")
    snapshot = selectors.revision_snapshot_verify(revision_id=revision_id)
    assert not snapshot.verified
    assert "text" in snapshot.problem


def test_acknowledging_only_the_revision_in_force_and_only_once(aup, officer, approver):
    nurse = UserFactory(roles=["nurse"])
    first = aup.current_revision_id
    services.acknowledgement_record(actor=nurse, revision_id=first)
    with pytest.raises(services.PolicyError, match="already acknowledged"):
        services.acknowledgement_record(actor=nurse, revision_id=first)
    publish(officer, approver, aup, body=AUP_TEXT + "\nNew rule.")
    with pytest.raises(services.PolicyError, match="not in force"):
        services.acknowledgement_record(actor=UserFactory(roles=["nurse"]), revision_id=first)
    event = AuditEvent.objects.filter(resource_type="PolicyAcknowledgement").get()
    assert event.actor_id == nurse.pk
    assert event.detail["statement"] == "I have read and understood"


def test_retiring_and_reviewing(aup, officer):
    with pytest.raises(services.PolicyError, match="Say what"):
        services.document_review_record(actor=officer, document_id=aup.pk, note="")
    services.document_review_record(actor=officer, document_id=aup.pk, note="Still right.")
    services.document_retire(actor=officer, document_id=aup.pk)
    aup.refresh_from_db()
    assert aup.retired_at is not None
    assert PolicyRevision.objects.get(pk=aup.current_revision_id).state == PolicyRevision.State.RETIRED
    with pytest.raises(services.PolicyError, match="already retired"):
        services.document_retire(actor=officer, document_id=aup.pk)

"""Campaign services: two different people, the 0-3 scale, the signatures in
order, read-only after sign-off, evidence hashed and verified, findings,
the year-over-year comparison and `latest_maturity` (ADR 0940)."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assessments import campaign_selectors, campaign_services
from safeward.assessments.campaign_evidence import safe_filename
from safeward.assessments.models import Campaign, Evidence, Finding, Question
from safeward.audit.models import AuditEvent
from tests.assessments.campaign_helpers import ENTRIES, PNG, answer_all, campaign, people, signed_off
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
CampaignError = campaign_services.CampaignError
NotYours = campaign_services.NotYours


def test_a_campaign_asks_one_question_per_entry_with_its_clause():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    questions = list(opened.questions.order_by("position"))
    assert [q.entry_ref for q in questions] == list(ENTRIES)
    assert [q.clause_ref for q in questions] == [
        "iso27001-2022:A.5",
        "iso27001-2022:A.5",
        "iso27001-2022:A.8",
    ]
    assert all(q.maturity is None for q in questions)
    event = AuditEvent.objects.filter(resource_type="AssessmentCampaign", action="create").get()
    assert event.detail["questions"] == 3
    assert event.detail["reviewer"] == reviewer.username


def test_a_whole_framework_campaign_covers_every_leaf():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer, entries=(), framework="iso27001-2005")
    assert opened.questions.count() == 11


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reviewer": "assessor"}, "two different people"),
        ({"entries": ("iso27001-2022:A.99.1",)}, "not an assessable entry"),
        ({"entries": ("iso27001-2022:A.5",)}, "not an assessable entry"),  # a theme, not a control
        ({"framework": "nist-800-53"}, "Unknown framework"),
        ({"year": 1999}, "between 2000 and 2100"),
        ({"name": "  "}, "needs a name"),
        ({"reviewer": "nurse"}, "reviewer must be an active account"),
        ({"assessor": "auditor"}, "assessor must be an active account"),
    ],
)
def test_bad_campaigns_are_refused_and_nothing_is_saved(change, message):
    assessor, reviewer = people()
    others = {
        "assessor": assessor,
        "nurse": UserFactory(roles=["nurse"]),
        "auditor": UserFactory(roles=["auditor"]),
    }
    chosen_assessor = others[change["assessor"]] if "assessor" in change else assessor
    chosen_reviewer = others[change["reviewer"]] if "reviewer" in change else reviewer
    with pytest.raises(CampaignError, match=message):
        campaign_services.campaign_create(
            actor=assessor,
            name=change.get("name", "ISO 2026"),
            framework=change.get("framework", "iso27001-2022"),
            year=change.get("year", 2026),
            assessor_id=chosen_assessor.pk,
            reviewer_id=chosen_reviewer.pk,
            entry_refs=change.get("entries", ENTRIES),
        )
    assert not Campaign.objects.exists()
    assert not Question.objects.exists()


def test_the_database_refuses_one_person_in_both_roles():
    from django.db import IntegrityError, transaction

    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=opened.pk).update(reviewer=assessor)


def test_only_the_assessor_answers_on_the_0_to_3_scale():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    question = opened.questions.first()
    other_officer = UserFactory(roles=["compliance_officer"])
    with pytest.raises(NotYours):
        campaign_services.question_answer(actor=other_officer, question_id=question.pk, maturity=2)
    with pytest.raises(NotYours):
        campaign_services.question_answer(actor=reviewer, question_id=question.pk, maturity=2)
    for bad in (-1, 4, 7):
        with pytest.raises(CampaignError, match="0, 1, 2 or 3"):
            campaign_services.question_answer(actor=assessor, question_id=question.pk, maturity=bad)
    answered = campaign_services.question_answer(
        actor=assessor, question_id=question.pk, maturity=2, notes=" documented "
    )
    assert (answered.maturity, answered.notes, answered.answered_by) == (2, "documented", assessor)
    with pytest.raises(CampaignError, match="No such question"):
        campaign_services.question_answer(actor=assessor, question_id=999_999, maturity=1)


def test_signatures_in_order_by_two_people_then_read_only():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    first = opened.questions.first()
    campaign_services.question_answer(actor=assessor, question_id=first.pk, maturity=1)
    with pytest.raises(CampaignError, match="2 question"):
        campaign_services.campaign_submit(actor=assessor, campaign_id=opened.pk)
    with pytest.raises(CampaignError, match="not signed"):
        campaign_services.campaign_sign_off(actor=reviewer, campaign_id=opened.pk)
    answer_all(assessor, opened, dict.fromkeys(ENTRIES, 2))
    with pytest.raises(NotYours):
        campaign_services.campaign_submit(actor=reviewer, campaign_id=opened.pk)
    campaign_services.campaign_submit(actor=assessor, campaign_id=opened.pk)
    with pytest.raises(CampaignError, match="reviewer can return"):
        campaign_services.question_answer(actor=assessor, question_id=first.pk, maturity=3)
    with pytest.raises(NotYours, match="reviewer signs it off"):
        campaign_services.campaign_sign_off(actor=assessor, campaign_id=opened.pk)
    done = campaign_services.campaign_sign_off(actor=reviewer, campaign_id=opened.pk)
    assert done.status == Campaign.Status.SIGNED_OFF
    assert done.reviewer_signed_at is not None
    assert done.read_only
    with pytest.raises(CampaignError, match="read-only"):
        campaign_services.question_answer(actor=assessor, question_id=first.pk, maturity=3)
    with pytest.raises(CampaignError, match="read-only"):
        campaign_services.evidence_add(actor=assessor, question_id=first.pk, filename="a.png", data=PNG)
    with pytest.raises(CampaignError, match="signed off"):
        campaign_services.finding_create(
            actor=assessor,
            question_id=first.pk,
            title="Late",
            severity="low",
            owner_id=assessor.pk,
            due_on=dt.date(2027, 1, 1),
        )
    with pytest.raises(CampaignError, match="already signed off"):
        campaign_services.campaign_sign_off(actor=reviewer, campaign_id=opened.pk)
    assert Question.objects.get(pk=first.pk).maturity == 2
    statuses = list(
        AuditEvent.objects.filter(resource_type="AssessmentCampaign", action="update").values_list(
            "detail", flat=True
        )
    )
    assert [d["status"] for d in statuses] == ["submitted", "signed_off"]


def test_the_reviewer_returns_a_campaign_with_a_reason():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    answer_all(assessor, opened, dict.fromkeys(ENTRIES, 1))
    campaign_services.campaign_submit(actor=assessor, campaign_id=opened.pk)
    with pytest.raises(CampaignError, match="Say why"):
        campaign_services.campaign_return(actor=reviewer, campaign_id=opened.pk, reason=" ")
    with pytest.raises(NotYours):
        campaign_services.campaign_return(actor=assessor, campaign_id=opened.pk, reason="mine")
    back = campaign_services.campaign_return(
        actor=reviewer, campaign_id=opened.pk, reason="A.8.1 needs evidence"
    )
    assert back.status == Campaign.Status.OPEN
    assert back.assessor_signed_at is None
    campaign_services.question_answer(actor=assessor, question_id=opened.questions.last().pk, maturity=0)


def test_evidence_is_stored_encrypted_with_its_hash_and_verified_on_download():
    import hashlib

    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    question = opened.questions.first()
    data = b"%PDF-1.7\nthe access control policy\n"
    evidence = campaign_services.evidence_add(
        actor=assessor, question_id=question.pk, filename="../../Policy v2.PDF", data=data
    )
    assert evidence.sha256 == hashlib.sha256(data).hexdigest()
    assert (evidence.filename, evidence.content_type, evidence.size) == (
        "Policy v2.pdf",
        "application/pdf",
        len(data),
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM assessments_evidence WHERE id = %s", [evidence.pk.hex])
        stored = bytes(cursor.fetchone()[0])
    assert data not in stored  # encrypted at rest
    opened_evidence, content = campaign_services.evidence_open(actor=reviewer, evidence_id=str(evidence.pk))
    assert content == data
    assert opened_evidence.pk == evidence.pk
    assert AuditEvent.objects.filter(resource_type="AssessmentEvidence", action="export").count() == 1


def test_an_altered_evidence_file_is_refused_and_the_attempt_audited():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    evidence = campaign_services.evidence_add(
        actor=assessor, question_id=opened.questions.first().pk, filename="shot.png", data=PNG
    )
    row = Evidence.objects.get(pk=evidence.pk)
    row.content = PNG + b"edited"
    row.save()
    with pytest.raises(campaign_services.EvidenceTampered, match="altered"):
        campaign_services.evidence_open(actor=reviewer, evidence_id=str(evidence.pk))
    event = AuditEvent.objects.filter(resource_type="AssessmentEvidence", action="export").get()
    assert event.outcome == "error"
    assert event.detail["verified"] is False


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("big.txt", b"a" * (10 * 1024 * 1024 + 1), "larger than 10 MiB"),
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "none of them"),
        ("scan.pdf", PNG, "does not end in .png"),
        ("notes.png", b"plain words", "does not end in"),
    ],
)
def test_bad_evidence_is_refused_and_nothing_is_stored(name, data, message):
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    with pytest.raises(campaign_services.EvidenceRefused, match=message):
        campaign_services.evidence_add(
            actor=assessor, question_id=opened.questions.first().pk, filename=name, data=data
        )
    assert not Evidence.objects.exists()


def test_safe_filenames():
    assert safe_filename('..\\..\\evil";.PNG') == "evil .png"
    assert safe_filename("") == "evidence"
    assert safe_filename("\x00\x01") == "evidence"


def test_findings_with_owner_due_date_and_status():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    question = opened.questions.last()
    owner = UserFactory(roles=["it_admin"])
    due = clock.now().date() + dt.timedelta(days=30)
    for title, severity, owner_id, due_on, message in (
        ("", "high", owner.pk, due, "title"),
        ("Patch", "urgent", owner.pk, due, "severity"),
        ("Patch", "high", 999_999, due, "owner"),
        ("Patch", "high", owner.pk, None, "due date"),
    ):
        with pytest.raises(CampaignError, match=message):
            campaign_services.finding_create(
                actor=assessor,
                question_id=question.pk,
                title=title,
                severity=severity,
                owner_id=owner_id,
                due_on=due_on,
            )
    assert not Finding.objects.exists()
    finding = campaign_services.finding_create(
        actor=assessor,
        question_id=question.pk,
        title="Asset inventory incomplete",
        severity="high",
        owner_id=owner.pk,
        due_on=due,
    )
    assert finding.entry_ref == "iso27001-2022:A.8.1"
    assert finding.status == Finding.Status.OPEN
    with pytest.raises(CampaignError, match="resolved"):
        campaign_services.finding_update(
            actor=assessor, finding_id=finding.pk, status="closed", owner_id=owner.pk, due_on=due
        )
    moved = campaign_services.finding_update(
        actor=assessor, finding_id=finding.pk, status="in_progress", owner_id=owner.pk, due_on=due
    )
    assert moved.status == "in_progress"
    assert moved.closed_at is None
    closed = campaign_services.finding_update(
        actor=assessor,
        finding_id=finding.pk,
        status="closed",
        owner_id=owner.pk,
        due_on=due,
        resolution="Discovery scan added every endpoint.",
    )
    assert closed.closed_at is not None
    assert list(campaign_selectors.findings_open()) == []


def test_findings_of_a_signed_off_campaign_still_move_to_closure():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    finding = campaign_services.finding_create(
        actor=assessor,
        question_id=opened.questions.first().pk,
        title="No review",
        severity="moderate",
        owner_id=assessor.pk,
        due_on=dt.date(2026, 12, 31),
    )
    answer_all(assessor, opened, dict.fromkeys(ENTRIES, 1))
    campaign_services.campaign_submit(actor=assessor, campaign_id=opened.pk)
    campaign_services.campaign_sign_off(actor=reviewer, campaign_id=opened.pk)
    closed = campaign_services.finding_update(
        actor=assessor,
        finding_id=finding.pk,
        status="closed",
        owner_id=assessor.pk,
        due_on=finding.due_on,
        resolution="Reviewed.",
    )
    assert closed.status == "closed"


def test_year_over_year_per_entry_and_per_clause():
    assessor, reviewer = people()
    signed_off(assessor, reviewer, year=2024, scores=dict(zip(ENTRIES, (0, 0, 0), strict=True)))
    signed_off(assessor, reviewer, year=2025, scores=dict(zip(ENTRIES, (1, 3, 2), strict=True)))
    current = campaign(assessor, reviewer, year=2026, entries=(*ENTRIES[:2], "iso27001-2022:A.8.2"))
    answer_all(
        assessor, current, {"iso27001-2022:A.5.1": 2, "iso27001-2022:A.5.2": 2, "iso27001-2022:A.8.2": 1}
    )
    yoy = campaign_selectors.year_over_year(campaign=current)
    assert yoy.previous is not None
    assert yoy.previous.year == 2025
    entries = {row.ref: (row.previous, row.current, row.delta) for row in yoy.entries}
    assert entries == {
        "iso27001-2022:A.5.1": (1, 2, 1),
        "iso27001-2022:A.5.2": (3, 2, -1),
        "iso27001-2022:A.8.2": (None, 1, None),  # not assessed the year before
    }
    clauses = {row.ref: (row.previous, row.current, row.delta) for row in yoy.clauses}
    assert clauses == {"iso27001-2022:A.5": (2.0, 2.0, 0.0), "iso27001-2022:A.8": (2.0, 1.0, -1.0)}


def test_an_open_campaign_is_never_the_previous_year():
    assessor, reviewer = people()
    campaign(assessor, reviewer, year=2025)
    current = campaign(assessor, reviewer, year=2026)
    assert campaign_selectors.year_over_year(campaign=current).previous is None


def test_latest_maturity_comes_from_the_latest_signed_off_campaign():
    assessor, reviewer = people()
    assert campaign_selectors.latest_maturity("iso27001-2022") == {}
    signed_off(assessor, reviewer, year=2024, scores=dict(zip(ENTRIES, (0, 1, 1), strict=True)))
    signed_off(assessor, reviewer, year=2025, scores=dict(zip(ENTRIES, (2, 3, 1), strict=True)))
    still_open = campaign(assessor, reviewer, year=2026)
    answer_all(assessor, still_open, dict.fromkeys(ENTRIES, 0))
    assert campaign_selectors.latest_maturity("iso27001-2022") == dict(zip(ENTRIES, (2, 3, 1), strict=True))
    assert campaign_selectors.latest_maturity("hicp") == {}


def test_an_edited_ciphertext_is_refused_as_altered():
    from django.db import connection

    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    evidence = campaign_services.evidence_add(
        actor=assessor, question_id=opened.questions.first().pk, filename="shot.png", data=PNG
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM assessments_evidence WHERE id = %s", [evidence.pk.hex])
        stored = bytearray(cursor.fetchone()[0])
        stored[-1] ^= 1
        cursor.execute(
            "UPDATE assessments_evidence SET content = %s WHERE id = %s", [bytes(stored), evidence.pk.hex]
        )
    with pytest.raises(campaign_services.EvidenceTampered):
        campaign_services.evidence_open(actor=reviewer, evidence_id=str(evidence.pk))

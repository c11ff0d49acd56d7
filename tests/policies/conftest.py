"""Fixtures for the policy library: a compliance officer who writes, a
privacy officer who approves, and a helper that takes a document through
the whole lifecycle."""

from __future__ import annotations

import pytest

from safeward.policies import services
from safeward.policies.models import PolicyDocument, PolicyRevision
from tests.factories import UserFactory

AUP_TEXT = """# Acceptable use

Hospital systems are for care and the hospital's business.

- Lock the screen when you step away.
- Never share your password or security key.
"""


@pytest.fixture
def officer(db):
    return UserFactory(roles=["compliance_officer"], totp_secret=True, username="comply")


@pytest.fixture
def approver(db):
    return UserFactory(roles=["privacy_officer"], totp_secret=True, username="privacy")


def publish(
    author, approver, document: PolicyDocument, body: str = AUP_TEXT, summary: str = ""
) -> PolicyRevision:
    revision = services.revision_draft(
        actor=author, document_id=document.pk, body=body, change_summary=summary
    )
    services.revision_submit(actor=author, revision_id=revision.pk)
    services.revision_approve(actor=approver, revision_id=revision.pk)
    return services.revision_publish(actor=approver, revision_id=revision.pk)


def new_document(owner, *, code: str = "acceptable-use", roles=("nurse",), positions=(), period: int = 365):
    return services.document_create(
        actor=owner,
        code=code,
        title=code.replace("-", " ").capitalize() + " policy",
        kind=PolicyDocument.Kind.POLICY,
        owner=owner,
        review_period_days=period,
        roles=roles,
        positions=positions,
    )


@pytest.fixture
def aup(officer, approver):
    """The acceptable-use policy, required for nurses, revision 1 published."""
    document = new_document(officer)
    publish(officer, approver, document)
    document.refresh_from_db()
    return document

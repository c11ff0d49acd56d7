"""The policy library's control tests (safeward/compliance.py, issue 18).

* `policies.review_current`: each published document is within its review
  period (last review or publication + period).
* `policies.acknowledged`: each person a published document is required for
  (by role or position) has acknowledged its current revision.
* `policies.approved_by_second_person`: each published revision was approved
  by someone other than its author.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.compliance import Check, control
from safeward.policies import selectors


@control(
    "policies.review_current",
    title="Every published policy is within its review period",
    maps=(
        "hipaa:164.316(b)(2)(iii)",
        "hipaa:164.316(a)",
        "iso27001-2022:A.5.1",
        "csf2:GV.PO-02",
        "hicp:10.S.A",
        "hicp:10.M.A",
    ),
)
def review_current(now: dt.datetime) -> Iterator[Check]:
    for document in selectors.documents_list(include_unpublished=False):
        due = document.next_review_due
        yield Check(
            "policy",
            str(document.pk),
            document.code,
            passed=due is not None and due >= now,
            evidence={
                "last_reviewed": document.last_reviewed_at.isoformat() if document.last_reviewed_at else None,
                "review_period_days": document.review_period_days,
                "next_review_due": due.isoformat() if due else None,
                "owner": document.owner.username,
            },
        )


@control(
    "policies.acknowledged",
    title="Everyone a policy is required for has acknowledged its current revision",
    maps=(
        "iso27001-2022:A.5.1",
        "iso27001-2022:A.6.3",
        "csf2:GV.PO-01",
        "hipaa:164.316(b)(2)(ii)",
        "hicp:10.M.A",
    ),
)
def acknowledged(now: dt.datetime) -> Iterator[Check]:
    for document in selectors.documents_list(include_unpublished=False):
        roles, positions = selectors.document_requirements(document=document)
        if not roles and not positions:
            continue
        people = list(selectors.audience(roles=roles, positions=positions))
        assert document.current_revision_id is not None  # documents_list(include_unpublished=False)
        done = selectors.acknowledged_user_ids(
            revision_id=document.current_revision_id, user_ids=[p.pk for p in people]
        )
        missing = sorted(p.username for p in people if p.pk not in done)
        yield Check(
            "policy",
            str(document.pk),
            document.code,
            passed=not missing,
            evidence={
                "revision": document.current_revision.number if document.current_revision else None,
                "required_for": {"roles": roles, "positions": positions},
                "people": len(people),
                "acknowledged": len(done),
                "missing": missing[:50],
            },
        )


@control(
    "policies.approved_by_second_person",
    title="Every published policy revision was approved by someone other than its author",
    maps=("iso27001-2022:A.5.1", "csf2:GV.PO-01", "hipaa:164.316(b)(1)"),
)
def approved_by_second_person(now: dt.datetime) -> Iterator[Check]:
    for revision in selectors.revisions_published():
        approver = revision.approved_by
        yield Check(
            "policy_revision",
            str(revision.pk),
            f"{revision.document.code} r{revision.number}",
            passed=approver is not None and approver.pk != revision.author_id,
            evidence={
                "author": revision.author.username,
                "approved_by": approver.username if approver else None,
                "approved_at": revision.approved_at.isoformat() if revision.approved_at else None,
            },
        )

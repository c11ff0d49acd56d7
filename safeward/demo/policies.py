"""The demo hospital's policy library (issue 18): five documents, each
written by the compliance officer and approved by the privacy officer.

* The acceptable-use policy, required for nurses and physicians: revision 1
  published last spring and acknowledged; revision 2 published three days
  ago with a campaign for nurses and physicians. The physician has
  acknowledged it, the nurse has not: still within the grace period, so the
  nurse sees the interstitial on their next page, not a lock-out.
* The information security policy, published 400 days ago with a yearly
  review: its review is overdue (a failing control and an alert to its
  owner, the security officer).
* The privacy policy, the incident response plan and the backup procedure,
  current.

History is written through the services under a clock set back to when it
happened, so the hashes, the PDF snapshots and the audit trail agree."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from safeward import clock
from safeward.identity.models import User
from safeward.policies import selectors, services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

AUP_V1 = """# Purpose

SafeWard and every other hospital system exist for the care of patients and the hospital's business.
This policy says what each of us may and may not do with them.

# Rules for everyone

- Use only your own account. Never share your password, your security key or your session.
- Lock the screen (Windows key + L) whenever you step away from a workstation.
- Open a patient's record only when you care for that patient or your job needs it.
- Do not copy patient data to USB drives, personal e-mail or cloud storage.

# Monitoring

Access to patient records is audited and reviewed. Misuse leads to the sanctions of the
sanction policy, up to dismissal and reporting to the regulator.
"""

AUP_V2_EXTRA = """
# Messaging and photographs

- Send clinical messages only through the hospital's secure messaging; never through personal
  messaging apps.
- Take clinical photographs only with the hospital's devices, and never keep them on a personal phone.

# Reporting

Report a lost badge, a lost device or a suspected phishing e-mail to the service desk **at once**
(extension 4357), day or night.
"""

INFOSEC = """# Scope

This policy covers all information the hospital holds, on any medium, and every system that stores or
processes it.

# Principles

- Least privilege: access follows the role and the care relationship, and ends with the job.
- Every access to patient data is recorded and can be verified.
- Data at rest and in transit is encrypted; keys rotate on schedule.

# Responsibilities

The security officer owns this policy and reviews it every year with the compliance officer.
"""

PRIVACY = """# Patients' rights

Patients may see who opened their record (the accounting of disclosures), ask for a copy and ask for
corrections.

# Minimum necessary

Use and disclose only the patient information a task needs. Break-the-glass access is reviewed by the
privacy officer within two working days.
"""

INCIDENT = """# When to start this plan

Any suspected breach of patient data, ransomware, or loss of a system that holds patient data.

# Steps

- Contain: isolate the affected systems; end the sessions of compromised accounts.
- Scope: use the audit trail to list the patients and records affected.
- Notify: the privacy officer decides on notification within the legal deadlines.
- Recover and learn: restore from verified backups; hold a review within 14 days.
"""

BACKUP = """# Schedule

- Nightly encrypted backups of the EHR database, kept 35 days on site and 1 year off site.
- A restore drill every quarter, verified by checksum and by opening sample records.

# Responsibilities

IT runs the backups and the drills; the security officer reviews the drill reports.
"""


def _publish(author: User, approver: User, document_id: int, body: str, summary: str) -> int:
    revision = services.revision_draft(
        actor=author, document_id=document_id, body=body, change_summary=summary
    )
    services.revision_submit(actor=author, revision_id=revision.pk)
    services.revision_approve(actor=approver, revision_id=revision.pk)
    return services.revision_publish(actor=approver, revision_id=revision.pk).pk


def seed_policies(ctx: SeedContext) -> None:
    if selectors.document_by_code(code="acceptable-use") is not None:
        ctx.write("policies: library in place")
        return
    accounts = {user.username: user for user in User.objects.filter(username__startswith="demo.")}
    author = accounts["demo.compliance_officer"]
    approver = accounts["demo.privacy_officer"]
    owners = {
        "security": accounts["demo.security_officer"],
        "privacy": approver,
        "it": accounts["demo.it_admin"],
        "compliance": author,
    }
    now = clock.now()

    def days_ago(days: int) -> dt.datetime:
        return now - dt.timedelta(days=days)

    with clock.frozen_at(days_ago(420)):
        infosec = services.document_create(
            actor=author,
            code="information-security",
            title="Information security policy",
            kind="policy",
            owner=owners["security"],
            roles=(),
        )
    with clock.frozen_at(days_ago(400)):
        _publish(author, approver, infosec.pk, INFOSEC, "Adopted by the board.")

    with clock.frozen_at(days_ago(210)):
        aup = services.document_create(
            actor=author,
            code="acceptable-use",
            title="Acceptable use policy",
            kind="policy",
            owner=author,
            roles=("nurse", "physician"),
        )
        privacy = services.document_create(
            actor=author,
            code="privacy",
            title="Privacy policy",
            kind="policy",
            owner=owners["privacy"],
        )
        incident = services.document_create(
            actor=author,
            code="incident-response",
            title="Incident response plan",
            kind="plan",
            owner=owners["security"],
        )
        backup = services.document_create(
            actor=author,
            code="backup",
            title="Backup and restore procedure",
            kind="procedure",
            owner=owners["it"],
            review_period_days=180,
        )
    with clock.frozen_at(days_ago(200)):
        first = _publish(author, approver, aup.pk, AUP_V1, "First version.")
        _publish(author, approver, privacy.pk, PRIVACY, "First version.")
        _publish(author, approver, incident.pk, INCIDENT, "First version.")
    with clock.frozen_at(days_ago(190)):
        for username in ("demo.nurse", "demo.physician"):
            services.acknowledgement_record(actor=accounts[username], revision_id=first)
    with clock.frozen_at(days_ago(60)):
        _publish(author, approver, backup.pk, BACKUP, "Quarterly restore drills.")

    with clock.frozen_at(days_ago(3)):
        second = _publish(
            author,
            approver,
            aup.pk,
            AUP_V1 + AUP_V2_EXTRA,
            "Secure messaging, clinical photographs, reporting.",
        )
        services.campaign_create(
            actor=author,
            document_id=aup.pk,
            name="Acceptable use, revision 2: nurses and physicians",
            roles=("nurse", "physician"),
            positions=(),
            due_at=now + dt.timedelta(days=11),
        )
    with clock.frozen_at(days_ago(2)):
        services.acknowledgement_record(actor=accounts["demo.physician"], revision_id=second)

    # The overdue review is recorded for detection (an alert to its owner).
    overdue = services.policies_sweep_overdue()
    ctx.write(f"policies: 5 documents, 1 campaign, {overdue} review overdue")

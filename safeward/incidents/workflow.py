"""The case's status transitions and the playbooks, as data (ADR 1400).

new -> triage -> contained -> eradicated -> recovered -> closed. A case may
skip forward (a lost laptop found wiped is contained and recovered at once)
but goes back only by reopening a closed case or when containment failed;
reopening and stepping back need a reason (closing records the reason given, e.g. "false positive");
every change lands on the timeline and in the audit trail."""

from __future__ import annotations

ORDER = ("new", "triage", "contained", "eradicated", "recovered", "closed")

# (from, to) -> a reason is required. Anything not listed is refused.
TRANSITIONS: dict[tuple[str, str], bool] = {}
for _i, _before in enumerate(ORDER[:-1]):
    for _after in ORDER[_i + 1 :]:
        TRANSITIONS[(_before, _after)] = False
TRANSITIONS[("closed", "triage")] = True  # reopen
TRANSITIONS[("contained", "triage")] = True  # containment failed


def transition_allowed(before: str, after: str) -> bool:
    return (before, after) in TRANSITIONS


def reason_required(before: str, after: str) -> bool:
    return TRANSITIONS.get((before, after), False)


def next_statuses(status: str) -> list[str]:
    return [after for (before, after) in TRANSITIONS if before == status]


# Playbooks per category: (code, task). Written after NIST SP 800-61r2 and the
# HHS/HICP ransomware and lost-device guidance; edit as the hospital's plan says.
_COMMON_START = (
    ("assign", "Name an owner and a reviewer"),
    ("scope", "Set the window and compute the breach scope"),
)
_COMMON_END = (
    ("risk", "Record the 164.402(2) four-factor risk assessment"),
    ("notify", "Send the notifications the breach clock lists, or record why none are due"),
    ("lessons", "Hold the lessons-learned review and record follow-up actions"),
)
PLAYBOOKS: dict[str, tuple[tuple[str, str], ...]] = {
    "ransomware": (
        *_COMMON_START,
        ("isolate", "Isolate affected hosts from the network"),
        ("downtime", "Declare downtime and issue downtime kits"),
        ("preserve", "Preserve memory and disk images as evidence"),
        ("restore", "Restore from a verified backup"),
        ("credentials", "Reset credentials used on affected hosts"),
        *_COMMON_END,
    ),
    "lost_device": (
        *_COMMON_START,
        ("report", "Report the device lost and revoke its sessions"),
        ("encryption", "Confirm whether the device was encrypted (safe harbour)"),
        ("police", "File a police report for a theft"),
        *_COMMON_END,
    ),
    "snooping": (
        *_COMMON_START,
        ("lock", "Lock the account and end its sessions"),
        ("interview", "Interview the workforce member with HR present"),
        ("sanction", "Apply the sanction policy (164.530(e))"),
        *_COMMON_END,
    ),
    "credential": (
        *_COMMON_START,
        ("lock", "Lock the account, end sessions and revoke tokens"),
        ("mfa", "Re-enrol multi-factor authentication"),
        ("sweep", "Review the account's activity for the window"),
        *_COMMON_END,
    ),
    "vendor": (
        *_COMMON_START,
        ("suspend", "Suspend the vendor's access"),
        ("baa", "Check the business associate agreement's notice terms"),
        ("manifests", "List the export manifests sent to the vendor"),
        *_COMMON_END,
    ),
    "misdirected": (
        *_COMMON_START,
        ("recall", "Ask the recipient to return or destroy the disclosure"),
        ("attest", "Obtain the recipient's attestation of destruction"),
        *_COMMON_END,
    ),
    "physical": (
        *_COMMON_START,
        ("secure", "Secure the area and review badge logs"),
        ("inventory", "Inventory the records or devices involved"),
        *_COMMON_END,
    ),
    "other": (*_COMMON_START, *_COMMON_END),
}

# Hours from the case's opening by which a playbook task is due (tasks not
# listed have no due date until someone sets one). The first hours decide how
# far a compromise spreads; the deadline sweep alerts the owner as each nears.
TASK_DUE_HOURS: dict[str, int] = {
    "assign": 24,
    "scope": 72,
    "isolate": 4,
    "lock": 4,
    "report": 24,
    "suspend": 24,
    "recall": 24,
}

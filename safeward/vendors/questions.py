"""The vendor security questionnaire, written by SafeWard (ADR 1213): a short
set after HICP's ten practices and the NIST CSF 2.0 functions, with the HIPAA
BAA clauses. Data, not code: each question has a code (stable: answers are
stored under it), its category, a weight and whether a 0 on it alone raises
the vendor's tier. Every answer is on the 0-3 scale below."""

from __future__ import annotations

from dataclasses import dataclass

TEMPLATE = "sw-vendor-lite-1"
TITLE = "SafeWard vendor security questionnaire (lite, version 1)"
SCALE = (
    (0, "Not in place"),
    (1, "Planned or partly in place"),
    (2, "In place"),
    (3, "In place and independently tested or certified"),
)


@dataclass(frozen=True)
class Question:
    code: str
    category: str
    text: str
    weight: int = 1
    critical: bool = False


QUESTIONS: tuple[Question, ...] = (
    Question(
        "gv-1", "Govern (CSF GV)", "A named person is accountable for security and privacy of our data.", 1
    ),
    Question(
        "gv-2",
        "Govern (CSF GV)",
        "Subcontractors that receive our PHI are bound by written terms as strict as yours.",
        2,
        True,
    ),
    Question(
        "id-1",
        "Identify (CSF ID; HICP 5)",
        "You keep an inventory of the systems that store or process our PHI.",
        1,
    ),
    Question(
        "pr-1",
        "Protect (CSF PR; HICP 3)",
        "Every account that can reach our PHI uses multi-factor authentication.",
        3,
        True,
    ),
    Question(
        "pr-2",
        "Protect (CSF PR; HICP 4)",
        "Our PHI is encrypted in transit and at rest, with keys you manage.",
        2,
        True,
    ),
    Question(
        "pr-3",
        "Protect (CSF PR; HICP 7)",
        "Security patches are applied within 30 days (critical ones within 7).",
        2,
    ),
    Question(
        "pr-4",
        "Protect (CSF PR; HICP 1)",
        "Staff with access to our PHI are trained on phishing and privacy yearly.",
        1,
    ),
    Question("de-1", "Detect (CSF DE; HICP 8)", "Access to our PHI is logged and the logs are reviewed.", 2),
    Question(
        "rs-1",
        "Respond (CSF RS; HIPAA 164.410)",
        "You will notify us of a breach of our PHI within the days the BAA sets.",
        3,
        True,
    ),
    Question(
        "rc-1",
        "Recover (CSF RC; HICP 8)",
        "Backups of our data are tested by restoring them at least yearly.",
        1,
    ),
    Question(
        "baa-1",
        "HIPAA BAA clauses",
        "At the end of the agreement you return or destroy our PHI and certify it.",
        2,
        True,
    ),
)
BY_CODE = {question.code: question for question in QUESTIONS}
MAX_POINTS = 3 * sum(question.weight for question in QUESTIONS)

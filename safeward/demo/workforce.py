"""The demo hospital's workforce: a record for every demo account, so HR's
pages show real people and terminating one ends that account's access.

Positions (one per demo job, mapped to the demo role), the confidentiality
agreement signed by everyone, the onboarding courses completed and their
refreshers running: some are due within weeks, and the billing clerk's
phishing course is a few days overdue (inside the grace period, so the clerk
sees a banner and keeps working). Everything goes through the workforce
services with the system actor, so it is audited like HR's own work.
Idempotent: a person that exists already (by employee number) is left alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from safeward import clock
from safeward.workforce import selectors, services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

AGREEMENT_VERSION = "2026.1"
AGREEMENT_TITLE = "Confidentiality agreement"
AGREEMENT_BODY = (
    "I will look at patient information only when my work needs it, share it only with people "
    "who need it for the patient's care or the hospital's work, keep my password and second "
    "factor to myself, and report anything that may expose patient information to the privacy "
    "officer at once. I understand that SafeWard records every access and that misuse ends my "
    "access and may end my employment."
)


@dataclass(frozen=True)
class DemoCourse:
    code: str
    title: str
    description: str
    required_for_onboarding: bool
    days_to_complete: int
    refresher_months: int


COURSES = (
    DemoCourse(
        "privacy-basics",
        "Patient privacy basics",
        "Minimum necessary, the accounting of disclosures, and what break-the-glass is for.",
        True,
        30,
        12,
    ),
    DemoCourse(
        "security-awareness",
        "Information security awareness",
        "Passwords and second factors, locking the screen, reporting an incident.",
        True,
        30,
        12,
    ),
    DemoCourse(
        "phishing",
        "Recognising phishing",
        "Spotting and reporting suspicious e-mail and calls.",
        False,
        30,
        6,
    ),
)

# Role code of the one demo person whose course is overdue (by OVERDUE_BY).
OVERDUE_ROLE = "billing_clerk"
OVERDUE_BY = dt.timedelta(days=3)
# How long ago each demo person started, and so when their yearly refreshers
# fall due: people on the list below are due within the next few weeks.
START_DAYS_AGO = 400
DUE_SOON_ROLES = {"nurse": 9, "physician": 20, "lab_technician": 12}


def employee_number(index: int) -> str:
    return f"DEMO-{index:04d}"


def _position_code(job_title: str) -> str:
    return job_title.lower().replace(" ", "-")[:40]


def seed_workforce(ctx: SeedContext) -> None:
    """The workforce seed step (registered in safeward.demo.seed.SEED_STEPS);
    runs after the staff step, whose accounts it brings under HR's records."""
    from safeward.demo.seed import DEMO_STAFF

    now = clock.now()
    if selectors.agreement_current() is None:
        services.agreement_publish(
            actor=None, version=AGREEMENT_VERSION, title=AGREEMENT_TITLE, body=AGREEMENT_BODY
        )
    for course in COURSES:
        if selectors.training_course_by_code(code=course.code) is None:
            services.training_course_save(
                actor=None,
                code=course.code,
                title=course.title,
                description=course.description,
                required_for_onboarding=course.required_for_onboarding,
                days_to_complete=course.days_to_complete,
                refresher_months=course.refresher_months,
            )
    phishing = selectors.training_course_by_code(code="phishing")
    assert phishing is not None  # saved above
    created = 0
    for index, (credential, user) in enumerate(ctx.credentials, start=1):
        number = employee_number(index)
        if selectors.person_by_employee_number(employee_number=number) or selectors.person_for_user(
            user=user
        ):
            continue
        first, last, department_code, job_title = DEMO_STAFF.get(
            credential.role, (user.first_name, user.last_name, "administration", credential.role_name)
        )
        position = services.position_save(
            actor=None, code=_position_code(job_title), title=job_title, default_roles=[credential.role]
        )
        started = now - dt.timedelta(days=START_DAYS_AGO)
        person = services.person_create(
            actor=None,
            employee_number=number,
            first_name=first,
            last_name=last,
            start_date=started.date(),
            kind="vendor_staff" if credential.role == "vendor" else "employee",
            department=ctx.departments.get(department_code),
            position=position,
        )
        services.person_account_link(actor=None, person=person, user=user)
        document = selectors.agreement_current()
        assert document is not None  # published above
        services.agreement_sign(actor=None, person=person, document=document, signer_name=f"{first} {last}")
        # The yearly refresher falls due `due_in` days from now.
        due_in = DUE_SOON_ROLES.get(credential.role, 90 + index * 7)
        completed = services.add_months(now + dt.timedelta(days=due_in), -12)
        for onboarding in selectors.training_courses_for_onboarding():
            services.training_complete(actor=None, person=person, course=onboarding, completed_at=completed)
        services.person_activate(actor=None, person=person)
        services.training_assign(
            actor=None,
            person=person,
            course=phishing,
            due_at=now - OVERDUE_BY if credential.role == OVERDUE_ROLE else now + dt.timedelta(days=45),
        )
        created += 1
    ctx.write(f"workforce: {len(ctx.credentials)} demo people ({created} new), {len(COURSES)} courses")

"""The demo hospital's first control run (issue 18): every registered
control test over the seeded hospital, signed like any run, so the
compliance dashboard opens on real results and real failures. The security
officer has asked for an exception for one failing resource, which waits
for the compliance officer's approval (a second person). Runs after every
other seed step: the tests judge what those steps made."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from safeward import clock
from safeward.assessments import selectors, services
from safeward.identity.selectors import user_by_username

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

# The exception a hospital really asks for: a person on leave whose training
# lapsed (booked for their return); any other failing resource otherwise.
PREFERRED = "workforce.training_current"
REASONS = {
    PREFERRED: "On leave until next month; the course is booked for the first week back.",
    "": "Remediation scheduled with the next maintenance window; reviewed weekly until then.",
}


def seed_compliance(ctx: SeedContext) -> None:
    officer = user_by_username(username="demo.compliance_officer")
    # The scheduled `controls` job has run by now (seed_scheduled_runs, ADR
    # 1506); this is the compliance officer's own run, once, after every step.
    if officer is not None and selectors.run_exists_by(actor=officer):
        ctx.write("Control tests: already run.")
        return
    run = services.controls_run(actor=officer, trigger="scheduled")
    ctx.write(
        f"Control tests: run {run.pk}, {run.controls_total} tests — {run.controls_passed} passed, "
        f"{run.controls_failed} failed, {run.controls_error} in error (signed, key {run.key_id})."
    )
    security = user_by_username(username="demo.security_officer")
    failing_resources = [
        resource
        for result in selectors.run_results(run=run)
        for resource in selectors.result_resources(result=result, failing_only=True)
    ]
    failing = next(
        (r for r in failing_resources if r.result.control_id == PREFERRED),
        failing_resources[0] if failing_resources else None,
    )
    if security is None or failing is None:
        return
    services.exception_request(
        actor=security,
        control_id=failing.result.control_id,
        resource_type=failing.resource_type,
        resource_id=failing.resource_id,
        reason=REASONS.get(failing.result.control_id, REASONS[""]),
        expires_on=clock.now().date() + dt.timedelta(days=90),
    )
    ctx.write(f"Control tests: an exception for {failing.label} awaits the compliance officer's approval.")

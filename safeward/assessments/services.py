"""Control runs and exceptions: every write takes `actor`, runs in one
transaction and records its audit event there (ADR 0900).

`controls_run` executes the registered control tests (all, or `only` some),
stores one result per test and one row per judged resource, then signs the
run's canonical JSON with the audit seal signer. A test that raises is
recorded as an error with its exception class only (its message may carry
patient data) and the run goes on. Exceptions are requested by one person
and approved by another holding assessment:exception:approve; they apply to
a failing resource of one control until their expiry or revocation."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from safeward import clock
from safeward.assessments import snapshot
from safeward.assessments.models import ControlException, ControlResult, ControlRun, ResourceResult
from safeward.audit.services import audit_record
from safeward.audit.signing import SealSigner, get_signer
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.compliance import ControlTest, discover
from safeward.identity.models import User
from safeward.identity.permissions import Perm

RUN_RESOURCE = "ControlRun"
EXCEPTION_RESOURCE = "ControlException"
MAX_REASON = 2000
MAX_EXCEPTION_DAYS = 366

Progress = Callable[[int, int, ControlTest, str, float], None]


class AssessmentError(Exception):
    """A write refused with a reason the person can act on."""


def _jsonable(evidence: Any) -> Any:
    """Evidence as it will be read back from JSON (dates become strings)."""
    return json.loads(json.dumps(evidence, default=str, sort_keys=True))


@dataclass
class _Outcome:
    test: ControlTest
    outcome: str
    duration_ms: int
    error: str
    rows: list[ResourceResult]


def valid_exceptions(*, today: dt.date) -> dict[tuple[str, str, str], ControlException]:
    """Approved, unrevoked exceptions not past their expiry, by (control, type, id)."""
    found = ControlException.objects.filter(state=ControlException.State.APPROVED, expires_on__gte=today)
    return {(e.control_id, e.resource_type, e.resource_id): e for e in found}


def _execute(
    test: ControlTest, now: dt.datetime, exceptions: Mapping[tuple[str, str, str], ControlException]
) -> _Outcome:
    started = time.perf_counter()
    try:
        checks = test.run(now)
    except Exception as error:  # any failure of one test: recorded, the run goes on
        return _Outcome(test, ControlResult.Outcome.ERROR, _ms(started), type(error).__name__, [])
    rows = []
    for check in checks:
        exception = (
            None if check.passed else exceptions.get((test.id, check.resource_type, check.resource_id))
        )
        rows.append(
            ResourceResult(
                resource_type=check.resource_type[:60],
                resource_id=check.resource_id[:200],
                label=check.label[:300],
                passed=check.passed,
                evidence=_jsonable(check.evidence),
                excepted=exception is not None,
                exception=exception,
            )
        )
    if not rows:
        outcome = ControlResult.Outcome.NOT_APPLICABLE
    elif any(not row.passed and not row.excepted for row in rows):
        outcome = ControlResult.Outcome.FAIL
    else:
        outcome = ControlResult.Outcome.PASS
    return _Outcome(test, outcome, _ms(started), "", rows)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def controls_run(
    *,
    actor: User | None,
    trigger: str = ControlRun.Trigger.ON_DEMAND,
    only: Iterable[str] = (),
    registry: Mapping[str, ControlTest] | None = None,
    progress: Progress | None = None,
    signer: SealSigner | None = None,
) -> ControlRun:
    """Run the control tests and store the signed run. `only` names control
    ids (unknown ones are refused before anything runs)."""
    if trigger not in ControlRun.Trigger.values:
        raise AssessmentError(f"Unknown trigger {trigger!r}.")
    tests = dict(registry if registry is not None else discover())
    wanted = sorted(set(only))
    unknown = [control_id for control_id in wanted if control_id not in tests]
    if unknown:
        raise AssessmentError(f"No control test {unknown[0]!r}; `safeward controls list` names them.")
    selected = [tests[control_id] for control_id in (wanted or sorted(tests))]
    started_at = clock.now()
    exceptions = valid_exceptions(today=started_at.date())
    outcomes = []
    for number, test in enumerate(selected, start=1):
        outcome = _execute(test, started_at, exceptions)
        outcomes.append(outcome)
        if progress is not None:
            progress(number, len(selected), test, outcome.outcome, outcome.duration_ms / 1000)
    with transaction.atomic():
        run = _store(actor=actor, trigger=trigger, only=wanted, started_at=started_at, outcomes=outcomes)
        _sign(run, signer or get_signer())
        audit_record(
            action=Action.EXECUTE,
            actor=actor,
            resource_type=RUN_RESOURCE,
            resource_id=run.pk,
            purpose=PurposeOfUse.AUDIT,
            detail={
                "trigger": trigger,
                "controls": run.controls_total,
                "failed": run.controls_failed,
                "error": run.controls_error,
                "sha256": run.snapshot_sha256,
                "key_id": run.key_id,
            },
        )
    return run


def _store(
    *, actor: User | None, trigger: str, only: list[str], started_at: dt.datetime, outcomes: list[_Outcome]
) -> ControlRun:
    count = {value: sum(1 for o in outcomes if o.outcome == value) for value in ControlResult.Outcome.values}
    run = ControlRun.objects.create(
        trigger=trigger,
        actor=actor,
        actor_username=actor.username if actor is not None else "",
        started_at=started_at,
        finished_at=clock.now(),
        only=only,
        controls_total=len(outcomes),
        controls_passed=count[ControlResult.Outcome.PASS],
        controls_failed=count[ControlResult.Outcome.FAIL],
        controls_error=count[ControlResult.Outcome.ERROR],
        controls_not_applicable=count[ControlResult.Outcome.NOT_APPLICABLE],
        resources_total=sum(len(o.rows) for o in outcomes),
        resources_failed=sum(1 for o in outcomes for row in o.rows if not row.passed and not row.excepted),
    )
    for outcome in outcomes:
        result = ControlResult.objects.create(
            run=run,
            control_id=outcome.test.id,
            title=outcome.test.title[:300],
            maps=list(outcome.test.maps),
            outcome=outcome.outcome,
            resources_total=len(outcome.rows),
            resources_failed=sum(1 for row in outcome.rows if not row.passed and not row.excepted),
            resources_excepted=sum(1 for row in outcome.rows if row.excepted),
            duration_ms=outcome.duration_ms,
            error=outcome.error,
        )
        for row in outcome.rows:
            row.result = result
        ResourceResult.objects.bulk_create(outcome.rows, batch_size=2000)
    return run


def _sign(run: ControlRun, signer: SealSigner) -> None:
    run.refresh_from_db()
    sha256 = snapshot.digest(snapshot.run_document(run))
    key_id, signature = signer.sign(sha256.encode("ascii"))
    # The run's only write after its rows: the seal (append-only from here).
    ControlRun.objects.filter(pk=run.pk, snapshot_sha256="").update(
        snapshot_sha256=sha256, signature=signature, key_id=key_id
    )
    run.refresh_from_db()


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    sha256: str


def verify_run(run: ControlRun, *, signer: SealSigner | None = None) -> Verification:
    """Recompute the run's canonical JSON from its stored rows; check the
    hash and the signature."""
    if not run.signed:
        return Verification(False, ("the run was never signed",), "")
    computed = snapshot.digest(snapshot.run_document(run))
    problems = []
    if computed != run.snapshot_sha256:
        problems.append("the stored rows do not match the signed SHA-256: the run was edited")
    if not (signer or get_signer()).verify(
        run.key_id, run.snapshot_sha256.encode("ascii"), bytes(run.signature)
    ):
        problems.append("the signature does not verify")
    return Verification(not problems, tuple(problems), computed)


def run_verify_recorded(*, actor: User | None, run: ControlRun) -> Verification:
    """`verify_run`, audited (the CLI and the pages)."""
    with transaction.atomic():
        verification = verify_run(run)
        audit_record(
            action=Action.AUDIT_VERIFY,
            actor=actor,
            resource_type=RUN_RESOURCE,
            resource_id=run.pk,
            purpose=PurposeOfUse.AUDIT,
            detail={"ok": verification.ok},
        )
    return verification


# --- exceptions ---------------------------------------------------------------------------


def exception_request(
    *,
    actor: User,
    control_id: str,
    resource_type: str,
    resource_id: str,
    reason: str,
    expires_on: dt.date,
) -> ControlException:
    """Ask to accept a failing resource of one control; it names a resource
    some run judged, and lapses at `expires_on` (at most a year away)."""
    reason = reason.strip()
    if not reason:
        raise AssessmentError("Give the reason the resource may fail this control.")
    if len(reason) > MAX_REASON:
        raise AssessmentError(f"The reason is longer than {MAX_REASON} characters.")
    today = clock.now().date()
    if expires_on <= today:
        raise AssessmentError("The expiry must be after today.")
    if expires_on > today + dt.timedelta(days=MAX_EXCEPTION_DAYS):
        raise AssessmentError("An exception lasts at most a year; ask again when it expires.")
    judged = (
        ResourceResult.objects.filter(
            result__control_id=control_id, resource_type=resource_type, resource_id=resource_id
        )
        .order_by("-result__run__started_at", "-pk")
        .first()
    )
    if judged is None:
        raise AssessmentError("No run judged that resource under that control.")
    with transaction.atomic():
        open_exception = ControlException.objects.filter(
            control_id=control_id,
            resource_type=resource_type,
            resource_id=resource_id,
            state__in=[ControlException.State.REQUESTED, ControlException.State.APPROVED],
            expires_on__gte=today,
        ).exists()
        if open_exception:
            raise AssessmentError("That resource already has an open exception for this control.")
        exception = ControlException.objects.create(
            control_id=control_id,
            resource_type=resource_type,
            resource_id=resource_id,
            label=judged.label,
            reason=reason,
            expires_on=expires_on,
            requested_by=actor,
            requested_at=clock.now(),
        )
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type=EXCEPTION_RESOURCE,
            resource_id=exception.pk,
            purpose=PurposeOfUse.OPERATIONS,
            detail={
                "control": control_id,
                "resource_type": resource_type,
                "expires_on": expires_on.isoformat(),
            },
        )
    return exception


def exception_approve(*, actor: User, exception_id: int) -> ControlException:
    """A second person, holding assessment:exception:approve, approves."""
    if not actor.has_perm(Perm.ASSESSMENT_EXCEPTION_APPROVE):
        raise AssessmentError("Approving an exception needs assessment:exception:approve.")
    with transaction.atomic():
        exception = ControlException.objects.select_for_update().filter(pk=exception_id).first()
        if exception is None:
            raise AssessmentError("No such exception.")
        if exception.state != ControlException.State.REQUESTED:
            raise AssessmentError(
                f"The exception is {exception.get_state_display().lower()}, not awaiting approval."
            )
        if exception.requested_by_id == actor.pk:
            raise AssessmentError("A second person approves an exception, not the one who asked for it.")
        if exception.expires_on <= clock.now().date():
            raise AssessmentError("The exception has expired; ask for a new one.")
        exception.state = ControlException.State.APPROVED
        exception.approved_by = actor
        exception.approved_at = clock.now()
        exception.save(update_fields=["state", "approved_by", "approved_at"])
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=EXCEPTION_RESOURCE,
            resource_id=exception.pk,
            purpose=PurposeOfUse.OPERATIONS,
            fields=["state"],
            detail={"state": exception.state, "control": exception.control_id},
        )
    return exception


def exception_revoke(*, actor: User, exception_id: int, reason: str) -> ControlException:
    reason = reason.strip()
    if not reason:
        raise AssessmentError("Give the reason for revoking the exception.")
    if len(reason) > MAX_REASON:
        raise AssessmentError(f"The reason is longer than {MAX_REASON} characters.")
    with transaction.atomic():
        exception = ControlException.objects.select_for_update().filter(pk=exception_id).first()
        if exception is None:
            raise AssessmentError("No such exception.")
        if exception.state == ControlException.State.REVOKED:
            raise AssessmentError("The exception is already revoked.")
        exception.state = ControlException.State.REVOKED
        exception.revoked_by = actor
        exception.revoked_at = clock.now()
        exception.revocation_reason = reason
        exception.save(update_fields=["state", "revoked_by", "revoked_at", "revocation_reason"])
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=EXCEPTION_RESOURCE,
            resource_id=exception.pk,
            purpose=PurposeOfUse.OPERATIONS,
            fields=["state"],
            detail={"state": exception.state, "control": exception.control_id},
        )
    return exception

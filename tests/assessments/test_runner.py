from __future__ import annotations

import datetime as dt
import json

import pytest

from safeward import clock
from safeward.assessments import selectors, services, snapshot
from safeward.assessments.models import ControlResult, ControlRun, ResourceResult
from safeward.audit import signing
from safeward.audit.models import AuditEvent
from tests.assessments.guard_helpers import signed_run_guard_dropped
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _officer():
    return UserFactory(roles=["compliance_officer"], totp_secret=True)


def test_a_run_records_every_test_signs_and_verifies(tests_registry):
    actor = _officer()
    run = services.controls_run(actor=actor, registry=tests_registry)
    outcomes = {r.control_id: r.outcome for r in run.results.all()}
    assert outcomes == {"identity.mfa": "fail", "crypto.keys": "pass", "audit.broken": "not_applicable"}
    assert (run.controls_total, run.controls_passed, run.controls_failed) == (3, 1, 1)
    assert run.resources_total == 3
    assert run.resources_failed == 1
    assert run.signed
    assert len(run.snapshot_sha256) == 64
    assert services.verify_run(run).ok
    event = AuditEvent.objects.get(resource_type="ControlRun", resource_id=str(run.pk))
    assert event.detail["sha256"] == run.snapshot_sha256


def test_a_test_that_raises_is_an_error_with_its_class_only(tests_registry, world):
    world.explode = True
    run = services.controls_run(actor=None, registry=tests_registry, trigger="scheduled")
    broken = run.results.get(control_id="audit.broken")
    assert broken.outcome == "error"
    assert broken.error == "ValueError"
    assert "Jane" not in json.dumps(snapshot.run_document(run))
    assert run.results.get(control_id="crypto.keys").outcome == "pass"  # the run went on
    assert run.controls_error == 1
    assert run.trigger == "scheduled"


def test_only_runs_the_named_tests_and_refuses_unknown_ones(tests_registry):
    run = services.controls_run(actor=None, registry=tests_registry, only=["crypto.keys"])
    assert list(run.results.values_list("control_id", flat=True)) == ["crypto.keys"]
    with pytest.raises(services.AssessmentError, match="No control test"):
        services.controls_run(actor=None, registry=tests_registry, only=["nope.nothing"])
    assert ControlRun.objects.count() == 1
    with pytest.raises(services.AssessmentError, match="trigger"):
        services.controls_run(actor=None, registry=tests_registry, trigger="sometimes")


@pytest.mark.parametrize(
    "edit",
    [
        lambda run: ResourceResult.objects.filter(result__run=run, passed=False).update(passed=True),
        lambda run: ResourceResult.objects.filter(result__run=run, resource_type="key").update(
            evidence={"age_days": 1}
        ),
        lambda run: ResourceResult.objects.filter(result__run=run, resource_id="1").update(label="someone"),
        lambda run: ControlResult.objects.filter(run=run, control_id="identity.mfa").update(outcome="pass"),
        lambda run: ResourceResult.objects.filter(result__run=run, resource_id="2").delete(),
        lambda run: ControlRun.objects.filter(pk=run.pk).update(controls_failed=0),
    ],
    ids=["passed", "evidence", "label", "outcome", "row-deleted", "count"],
)
def test_an_edit_after_signing_fails_verification(tests_registry, edit):
    run = services.controls_run(actor=None, registry=tests_registry)
    # The database refuses these edits (test_signed_run_guard.py); its owner could drop the trigger.
    with signed_run_guard_dropped():
        edit(run)
    run.refresh_from_db()
    verification = services.verify_run(run)
    assert not verification.ok
    assert "edited" in verification.problems[0]


def test_a_signature_from_another_key_fails(tests_registry, tmp_path):
    run = services.controls_run(actor=None, registry=tests_registry)
    other = signing.LocalEd25519Signer(tmp_path / "other.pem", create=True)
    assert not services.verify_run(run, signer=other).ok


def test_offline_verification_from_the_exported_snapshot(tests_registry, seal_key):
    run = services.controls_run(actor=None, registry=tests_registry)
    exported = json.loads(json.dumps(snapshot.export(run)))
    verifier = signing.PublicKeyVerifier.from_pem(
        [pem.encode() for pem in seal_key.public_keys_pem().values()]
    )
    assert snapshot.verify_document(exported, verifier) == []
    exported["document"]["results"][2]["resources"][1]["passed"] = True
    assert "edited" in snapshot.verify_document(exported, verifier)[0]
    assert snapshot.verify_document({"x": 1}, verifier) == ["not a SafeWard control-run snapshot"]


def test_exceptions_need_a_second_person_and_stop_failing_the_control(tests_registry, frozen_clock):
    requester, approver = _officer(), _officer()
    services.controls_run(actor=requester, registry=tests_registry)
    expires = clock.now().date() + dt.timedelta(days=30)
    exception = services.exception_request(
        actor=requester,
        control_id="identity.mfa",
        resource_type="account",
        resource_id="2",
        reason="Service account on a kiosk",
        expires_on=expires,
    )
    with pytest.raises(services.AssessmentError, match="second person"):
        services.exception_approve(actor=requester, exception_id=exception.pk)
    nurse = UserFactory(roles=["nurse"])
    with pytest.raises(services.AssessmentError, match="needs"):
        services.exception_approve(actor=nurse, exception_id=exception.pk)
    # Not yet approved: still fails.
    assert (
        services.controls_run(actor=None, registry=tests_registry)
        .results.get(control_id="identity.mfa")
        .outcome
        == "fail"
    )
    services.exception_approve(actor=approver, exception_id=exception.pk)
    run = services.controls_run(actor=None, registry=tests_registry)
    mfa = run.results.get(control_id="identity.mfa")
    assert mfa.outcome == "pass"
    assert mfa.resources_excepted == 1
    assert mfa.resources_failed == 0
    assert services.verify_run(run).ok
    # Expired: fails again.
    frozen_clock.advance(days=31)
    assert (
        services.controls_run(actor=None, registry=tests_registry)
        .results.get(control_id="identity.mfa")
        .outcome
        == "fail"
    )


def test_revoked_exceptions_stop_applying(tests_registry):
    requester, approver = _officer(), _officer()
    services.controls_run(actor=None, registry=tests_registry)
    exception = services.exception_request(
        actor=requester,
        control_id="identity.mfa",
        resource_type="account",
        resource_id="2",
        reason="Kiosk",
        expires_on=clock.now().date() + dt.timedelta(days=5),
    )
    services.exception_approve(actor=approver, exception_id=exception.pk)
    services.exception_revoke(actor=approver, exception_id=exception.pk, reason="Kiosk gone")
    run = services.controls_run(actor=None, registry=tests_registry)
    assert run.results.get(control_id="identity.mfa").outcome == "fail"
    assert selectors.exceptions_list(state="revoked").count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 2001}, "longer"),
        ({"expires_on": dt.date(2000, 1, 1)}, "after today"),
        ({"expires_on_days": 400}, "at most a year"),
        ({"resource_id": "404"}, "No run judged"),
        ({"control_id": "nope.none"}, "No run judged"),
    ],
)
def test_bad_exception_requests_are_refused_and_save_nothing(tests_registry, changes, message):
    actor = _officer()
    services.controls_run(actor=None, registry=tests_registry)
    values = {
        "control_id": "identity.mfa",
        "resource_type": "account",
        "resource_id": "2",
        "reason": "Kiosk",
        "expires_on": clock.now().date() + dt.timedelta(days=5),
    }
    days = changes.pop("expires_on_days", None)
    values.update(changes)
    if days:
        values["expires_on"] = clock.now().date() + dt.timedelta(days=days)
    with pytest.raises(services.AssessmentError, match=message):
        services.exception_request(actor=actor, **values)
    assert not selectors.exceptions_list().exists()


def test_a_second_open_exception_for_the_same_resource_is_refused(tests_registry):
    actor = _officer()
    services.controls_run(actor=None, registry=tests_registry)
    values = {
        "control_id": "identity.mfa",
        "resource_type": "account",
        "resource_id": "2",
        "reason": "Kiosk",
        "expires_on": clock.now().date() + dt.timedelta(days=5),
    }
    services.exception_request(actor=actor, **values)
    with pytest.raises(services.AssessmentError, match="already"):
        services.exception_request(actor=actor, **values)


def test_latest_results_take_each_controls_last_run(tests_registry, world):
    services.controls_run(actor=None, registry=tests_registry)
    world.keys_ok = False
    services.controls_run(actor=None, registry=tests_registry, only=["crypto.keys"])
    latest = selectors.latest_results()
    assert latest["crypto.keys"].outcome == "fail"
    assert latest["identity.mfa"].outcome == "fail"
    assert latest["identity.mfa"].run_id != latest["crypto.keys"].run_id


def test_renaming_the_actor_later_does_not_break_verification(tests_registry):
    actor = _officer()
    run = services.controls_run(actor=actor, registry=tests_registry)
    type(actor).objects.filter(pk=actor.pk).update(username="renamed.officer")
    run.refresh_from_db()
    assert services.verify_run(run).ok
    assert snapshot.run_document(run)["actor"] == actor.username

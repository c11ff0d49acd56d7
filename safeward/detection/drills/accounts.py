"""Drill accounts and drill (decoy) patients.

* Drill accounts are ordinary users whose username starts with `drill.`
  (the scenarios name them `drill.<scenario>.<run id>`, new at every run),
  with a real role, a password and an enrolled TOTP authenticator. Password
  and TOTP secret are random, kept only in the drill process's memory, and
  the accounts are disabled again when the run ends: a drill account is
  usable only while its drill runs.
* Drill patients are decoys registered through the clinical gateway (system
  actor `drill`, audited like any registration) with obviously synthetic
  names and `DRILL-` record numbers, each registered as a canary
  (`CanaryRecord`, label `drill:...`). No real person is behind them, so no
  real patient's access report or accounting of disclosures can contain a
  drill; the drills never open any other patient (`drill_patient_ids`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from django.db import transaction

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import Conflict, PatientInput, SessionContext, SystemActor
from safeward.detection.models import CanaryRecord
from safeward.identity import services as identity_services
from safeward.identity.models import DRILL_USERNAME_PREFIX, Role, RoleAssignment, User

DRILL_PREFIX = DRILL_USERNAME_PREFIX
CANARY_PREFIX = "drill"
DRILL_ACTOR = SystemActor("drill")
FIRST_NAME = "Drill"
BIRTH_DATE = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class DrillAccount:
    """A drill account ready to sign in: the secrets live only here."""

    user_id: int
    username: str
    password: str
    totp_secret: str
    role: str


@dataclass(frozen=True)
class AccountSpec:
    username: str
    last_name: str
    role: str | None  # None: no role (the leaver gets its access from the workforce record)


def is_drill_username(username: str) -> bool:
    return username.startswith(DRILL_PREFIX)


def _check(spec: AccountSpec) -> None:
    if not is_drill_username(spec.username):
        raise ValueError(f"drill accounts start with {DRILL_PREFIX!r}")


def _enrol_totp(user: User) -> str:
    """A fresh TOTP authenticator for the drill account (the old one, if any,
    is replaced). Audited as an enrolment made by the drill."""
    adapter = get_mfa_adapter()
    removed, _ = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
    if removed:
        audit_record(
            action=Action.MFA_REMOVE, resource_type="User", resource_id=user.pk, detail={"drill": True}
        )
    secret = str(generate_totp_secret())
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": adapter.encrypt(secret)}
    )
    audit_record(
        action=Action.MFA_ENROL,
        resource_type="User",
        resource_id=user.pk,
        detail={"factor": "totp", "drill": True},
    )
    return secret


def new_password() -> str:
    token = secrets.token_urlsafe(18)
    return "-".join(token[i : i + 6] for i in range(0, 24, 6))


@transaction.atomic
def account_prepare(spec: AccountSpec) -> DrillAccount:
    """Create or re-arm a drill account: enabled, unlocked, with its role, a
    new random password and a new TOTP secret."""
    _check(spec)
    user = User.objects.filter(username=spec.username).first()
    password = new_password()
    if user is None:
        user = identity_services.user_create(
            actor=None,
            username=spec.username,
            first_name=FIRST_NAME,
            last_name=spec.last_name,
            email=f"{spec.username}@drill.invalid",
            job_title="Attack drill account",
            password=password,
            drill=True,
        )
    else:
        identity_services.user_set_password(actor=None, user=user, password=password)
        if user.locked_at is not None:
            identity_services.user_unlock(actor=None, user=user)
        if not user.is_active:
            identity_services.user_activate(actor=None, user=user, reason="attack drill starts")
    if spec.role is not None:
        role = Role.objects.get(code=spec.role)
        if not RoleAssignment.objects.filter(
            user=user, role=role, status=RoleAssignment.Status.ACTIVE
        ).exists():
            identity_services.role_request(actor=None, user=user, role=role, reason="attack drill account")
    secret = _enrol_totp(user)
    return DrillAccount(user.pk, spec.username, password, secret, spec.role or "")


def accounts_disable(*, reason: str = "attack drill ended") -> int:
    """Disable every drill account that is still enabled (ends its sessions).
    Returns how many."""
    disabled = 0
    for user in User.objects.filter(username__startswith=DRILL_PREFIX, is_active=True).order_by("pk"):
        identity_services.user_deactivate(actor=None, user=user, reason=reason)
        disabled += 1
    return disabled


def drill_users() -> list[User]:
    return list(User.objects.filter(username__startswith=DRILL_PREFIX).order_by("username"))


# --- decoy patients ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecoySpec:
    label: str  # the canary label, "drill:..."
    given_name: str
    family_name: str
    mrn: str
    is_employee: bool = False


def canary_patient_id(label: str) -> str | None:
    return CanaryRecord.objects.filter(label=label).values_list("patient_id", flat=True).first()


def drill_patient_ids() -> set[str]:
    """Every drill decoy's patient id: the only patients a drill may open."""
    return set(
        CanaryRecord.objects.filter(label__startswith=CANARY_PREFIX).values_list("patient_id", flat=True)
    )


def _canary_register(patient_id: str, label: str) -> None:
    from safeward.detection.services import canary_register

    canary_register(actor=None, patient_id=patient_id, label=label)


def decoy_ensure(spec: DecoySpec) -> tuple[str, bool]:
    """The decoy's patient id, registering it (through the gateway, as the
    system actor `drill`) and its canary record when missing. Returns
    (patient id, created)."""
    if not spec.label.startswith(CANARY_PREFIX):
        raise ValueError(f"drill canary labels start with {CANARY_PREFIX!r}")
    existing = canary_patient_id(spec.label)
    if existing is not None:
        return existing, False
    data = PatientInput(
        given_name=spec.given_name,
        family_name=spec.family_name,
        birth_date=BIRTH_DATE,
        sex="unknown",
        mrn=spec.mrn,
        is_employee=spec.is_employee,
    )
    with transaction.atomic():
        try:
            view = gateway.patient_register(
                actor=DRILL_ACTOR,
                session=SessionContext.system(),
                purpose=PurposeOfUse.OPERATIONS,
                data=data,
                confirm_not_duplicate=True,  # a canary: a namesake of a real patient is intended
            )
        except Conflict:
            # The record number is taken (a canary record was removed by hand):
            # let the gateway number this one.
            view = gateway.patient_register(
                actor=DRILL_ACTOR,
                session=SessionContext.system(),
                purpose=PurposeOfUse.OPERATIONS,
                data=PatientInput(**{**data.__dict__, "mrn": None}),
                confirm_not_duplicate=True,
            )
        _canary_register(view.id, spec.label)
    return view.id, True


def pool_spec(number: int) -> DecoySpec:
    return DecoySpec(
        label=f"{CANARY_PREFIX}:pool:{number:04d}",
        given_name=FIRST_NAME,
        family_name=f"Decoy-{number:04d}",
        mrn=f"DRILL-P{number:04d}",
    )


def pool_ensure(count: int) -> list[str]:
    """`count` pool decoys (the mass-lookup and break-glass targets)."""
    return [decoy_ensure(pool_spec(number))[0] for number in range(1, count + 1)]

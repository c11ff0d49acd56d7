"""The drill scenarios. Each has a `prepare` step (accounts, decoys, anything
that is not the attack, done before the drill's clock starts) and an
`attack` step that replays the attack over HTTP against the running server
and returns a `Trace` of who did it and which audit actions are the attack.

Every scenario sizes itself from the detection rules' current configuration
(a drill that needs 121 patients for a registration clerk's mass-access
threshold opens 121) and from the sign-in throttles, so it tests the
configuration the hospital actually runs.
"""

from __future__ import annotations

import math
import re
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from safeward import clock
from safeward.detection.drills import accounts
from safeward.detection.drills.accounts import AccountSpec, DecoySpec, DrillAccount
from safeward.detection.drills.client import DrillClient, DrillHTTPError

Say = Callable[[str], None]

# The surname the snooping drill user shares with the decoy colleague.
COLLEAGUE_SURNAME = "Drillsworth"
COLLEAGUE = DecoySpec(
    label="drill:colleague",
    given_name="Colleague",
    family_name=COLLEAGUE_SURNAME,
    mrn="DRILL-C0001",
    is_employee=True,
)
BREAK_GLASS_REASON = "Attack drill: repeated emergency access by one account (synthetic decoy record)."


class DrillSetupError(Exception):
    """The scenario cannot run on this system as configured (message says why)."""


def new_run_id() -> str:
    return clock.now().strftime("%Y%m%d%H%M") + secrets.token_hex(2)


@dataclass
class DrillContext:
    base_url: str
    tls: ssl.SSLContext | None
    say: Say
    rule_params: dict[str, dict[str, Any]]
    prepared: list[DrillAccount] = field(default_factory=list)
    run_id: str = field(default_factory=new_run_id)

    def username(self, name: str) -> str:
        """This run's account `drill.<name>.<run id>`: new accounts at every
        run, so no rule window or open alert carries over from a previous one."""
        return f"{accounts.DRILL_PREFIX}{name}.{self.run_id}"

    def client(self, label: str) -> DrillClient:
        return DrillClient(self.base_url, context=self.tls, label=label)

    def account(self, spec: AccountSpec) -> DrillAccount:
        from safeward.identity.models import Role

        try:
            account = accounts.account_prepare(spec)
        except Role.DoesNotExist:
            raise DrillSetupError(f"the role {spec.role!r} is not in this system's role catalog") from None
        self.prepared.append(account)
        return account

    def param(self, rule: str, name: str) -> Any:
        return self.rule_params[rule][name]


@dataclass
class Trace:
    """What the attack did: the accounts and decoys involved and which audit
    actions count as the attack (the first of them starts the clock)."""

    usernames: set[str]
    user_ids: set[int]
    patient_ids: set[str] = field(default_factory=set)
    attack_actions: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    code: str
    title: str
    summary: str
    expected: tuple[str, ...]  # every one of these rules must fire
    prepare: Callable[[DrillContext], Any]
    attack: Callable[[DrillContext, Any], Trace]


def _wrong_password() -> str:
    return "drill-wrong-" + secrets.token_urlsafe(9)


def _rate_limit(action: str, kind: str) -> tuple[int, float] | None:
    """allauth's rate limit for `action` per `kind` ("ip", "key"):
    (amount, period seconds), from settings.ACCOUNT_RATE_LIMITS."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    spec = (getattr(settings, "ACCOUNT_RATE_LIMITS", {}) or {}).get(action) or ""
    for part in str(spec).split(","):
        match = re.fullmatch(r"\s*(\d+)/(\d*)([smhd])(?:/(\w+))?\s*", part)
        if match and (match.group(4) or "ip") == kind:
            return int(match.group(1)), int(match.group(2) or 1) * units[match.group(3)]
    return None


THROTTLE_HINT = (
    "the sign-in throttle blocks this address: failed sign-ins of earlier drill runs count for "
    "SAFEWARD_THROTTLE_WINDOW_MINUTES ({minutes} min); wait, or run the drill from another address"
)


def throttle_hint() -> str:
    return THROTTLE_HINT.format(minutes=settings.SAFEWARD_THROTTLE_WINDOW_MINUTES)


def _sign_in(client: DrillClient, account: DrillAccount) -> None:
    signed = client.sign_in(account.username, account.password, account.totp_secret)
    if signed.outcome == "throttled":
        raise DrillHTTPError(f"{account.username} could not sign in: {throttle_hint()}")
    if not signed.ok:
        raise DrillHTTPError(f"{account.username} could not sign in ({signed.outcome})")


# --- credential stuffing -------------------------------------------------------------------------
@dataclass(frozen=True)
class StuffingPlan:
    accounts: int
    failures_first: int  # failures on the account that then signs in
    failures: int  # all failures
    pause: float  # seconds between attempts (allauth's per-address limit)
    warnings: tuple[str, ...]


def stuffing_plan(ctx: DrillContext) -> StuffingPlan:
    """As few attempts as make both rules fire within the sign-in throttles:
    the address rule by distinct usernames or by count (whichever needs
    fewer attempts), the success rule by failures on the account that then
    signs in. No account gets more failures than the throttle allows."""
    warnings: list[str] = []
    cap = settings.SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES - 1
    key_limit = _rate_limit("login_failed", "key")
    if key_limit is not None:
        cap = min(cap, key_limit[0] - 1)
    cap = max(cap, 1)
    needed_first = int(ctx.param("login_after_failures", "failures"))
    first = min(max(needed_first, 1), cap)
    if needed_first > cap:
        warnings.append(
            f"login_after_failures needs {needed_first} failures on one account, but the sign-in "
            f"throttle refuses that account after {cap}: that rule cannot fire as configured"
        )
    by_names = max(int(ctx.param("failed_login_address", "distinct_usernames")), 2)
    by_count = int(ctx.param("failed_login_address", "threshold"))
    total_by_names = first + by_names - 1
    accounts_by_count = max(2, 1 + math.ceil(max(by_count - first, 0) / cap))
    total_by_count = max(by_count, first + accounts_by_count - 1)
    if total_by_names <= total_by_count:
        plan_accounts, total = by_names, total_by_names
    else:
        plan_accounts, total = accounts_by_count, total_by_count
    address_cap = settings.SAFEWARD_THROTTLE_ADDRESS_FAILURES - 1
    if total > address_cap:
        warnings.append(
            f"the address rule needs {total} failures, the sign-in throttle blocks the address after "
            f"{address_cap}: the final sign-in will be refused"
        )
    ip_limit = _rate_limit("login_failed", "ip")
    pause = 0.0
    if ip_limit is not None and total >= ip_limit[0]:
        pause = ip_limit[1] / ip_limit[0] + 0.2
    return StuffingPlan(plan_accounts, first, total, pause, tuple(warnings))


def _stuffing_prepare(ctx: DrillContext) -> tuple[StuffingPlan, list[DrillAccount]]:
    plan = stuffing_plan(ctx)
    for warning in plan.warnings:
        ctx.say(f"  warning: {warning}")
    targets = [
        ctx.account(AccountSpec(ctx.username(f"stuffing{n:02d}"), f"Stuffing-{n:02d}", "nurse"))
        for n in range(1, plan.accounts + 1)
    ]
    return plan, targets


def _stuffing_attack(ctx: DrillContext, prepared: tuple[StuffingPlan, list[DrillAccount]]) -> Trace:
    plan, targets = prepared
    attacker = ctx.client("credential_stuffing")
    rest = plan.failures - plan.failures_first
    attempts = [targets[0].username] * plan.failures_first + [
        targets[1 + i % (len(targets) - 1)].username for i in range(rest)
    ]
    ctx.say(
        f"  {len(attempts)} sign-ins with wrong passwords over {len(targets)} drill accounts "
        f"from one address{f', one every {plan.pause:.1f}s (rate limit)' if plan.pause else ''}"
    )
    refused = throttled = 0
    for number, username in enumerate(attempts, 1):
        if number > 1 and plan.pause:
            time.sleep(plan.pause)
        outcome = attacker.sign_in(username, _wrong_password())
        if outcome.ok:
            raise DrillHTTPError(f"a wrong password signed {username} in")
        throttled += outcome.outcome == "throttled"
        refused += outcome.outcome == "refused"
    ctx.say(f"  refused {refused}, throttled {throttled}")
    winner = targets[0]
    if plan.pause:
        time.sleep(plan.pause)
    result = attacker.sign_in(winner.username, winner.password, winner.totp_secret)
    ctx.say(f"  then the right password for {winner.username}: {result.outcome}")
    if result.outcome == "throttled" or throttled:
        ctx.say(f"  warning: {throttle_hint()}")
    trace = Trace(
        usernames={t.username for t in targets},
        user_ids={t.user_id for t in targets},
        attack_actions=frozenset({"login", "login_throttled"}),
    )
    trace.notes.append(f"{len(attempts)} failures, final sign-in {result.outcome}")
    return trace


# --- snooping on a colleague -----------------------------------------------------------------------
def _snoop_prepare(ctx: DrillContext) -> tuple[DrillAccount, str]:
    snoop = ctx.account(AccountSpec(ctx.username("snoop"), COLLEAGUE_SURNAME, "pharmacist"))
    patient_id, created = accounts.decoy_ensure(COLLEAGUE)
    ctx.say(
        f"  decoy colleague (employee, surname {COLLEAGUE_SURNAME}) {'registered' if created else 'ready'}"
    )
    return snoop, patient_id


def _snoop_attack(ctx: DrillContext, prepared: tuple[DrillAccount, str]) -> Trace:
    snoop, patient_id = prepared
    client = ctx.client("colleague_snooping")
    _sign_in(client, snoop)
    chart = client.open_chart(patient_id)
    ctx.say(f"  {snoop.username} (pharmacist) opened the colleague's chart: HTTP {chart.status}")
    trace = Trace({snoop.username}, {snoop.user_id}, {patient_id}, frozenset({"read"}))
    trace.notes.append(f"chart HTTP {chart.status}")
    return trace


# --- mass lookup -------------------------------------------------------------------------------------
MASS_ROLE = "registration_clerk"


def mass_lookup_size(ctx: DrillContext) -> int:
    thresholds = ctx.param("mass_access", "role_thresholds") or {}
    threshold = int(thresholds.get(MASS_ROLE, ctx.param("mass_access", "threshold")))
    return threshold + 1


def _mass_prepare(ctx: DrillContext) -> tuple[DrillAccount, list[str]]:
    size = mass_lookup_size(ctx)
    ctx.say(f"  {size} decoy patients (mass_access threshold for {MASS_ROLE} + 1)")
    patients = accounts.pool_ensure(size)
    return ctx.account(AccountSpec(ctx.username("mass"), "Lookup", MASS_ROLE)), patients


def _mass_attack(ctx: DrillContext, prepared: tuple[DrillAccount, list[str]]) -> Trace:
    user, patients = prepared
    client = ctx.client("mass_lookup")
    _sign_in(client, user)
    started = time.monotonic()
    statuses: dict[int, int] = {}
    for patient_id in patients:
        status = client.open_chart(patient_id).status
        statuses[status] = statuses.get(status, 0) + 1
    took = time.monotonic() - started
    summary = ", ".join(f"HTTP {code}: {count}" for code, count in sorted(statuses.items()))
    ctx.say(f"  {user.username} opened {len(patients)} charts in {took:.1f}s ({summary})")
    trace = Trace({user.username}, {user.user_id}, set(patients), frozenset({"read"}))
    trace.notes.append(summary)
    return trace


# --- a terminated account signs in ---------------------------------------------------------------------
def _leaver_prepare(ctx: DrillContext) -> DrillAccount:
    """A drill person hired and terminated through the workforce services.
    When the onboarding gates can be passed here (a confidentiality agreement
    is published), the account is activated and used once before it is
    terminated; otherwise it is terminated while still in onboarding."""
    from safeward.identity.errors import InvalidState
    from safeward.workforce import selectors as workforce_selectors
    from safeward.workforce import services as workforce

    username = ctx.username("leaver")
    try:
        person = workforce.person_create(
            actor=None,
            employee_number=f"DRILL-{ctx.run_id}",
            first_name=accounts.FIRST_NAME,
            last_name="Leaver",
            start_date=clock.now().date(),
        )
        workforce.person_account_create(actor=None, person=person, username=username, drill=True)
    except InvalidState as error:
        raise DrillSetupError(f"the workforce services refused the drill leaver: {error}") from None
    account = ctx.account(AccountSpec(username, "Leaver", None))
    # account_prepare enabled it; the workforce record decides from here.
    from safeward.identity import services as identity_services
    from safeward.identity.models import User

    user = User.objects.get(pk=account.user_id)
    identity_services.user_deactivate(actor=None, user=user, reason="onboarding: gates not yet passed")
    activated = _onboard(person, workforce, workforce_selectors)
    if activated:
        client = ctx.client("terminated_login-before")
        before = client.sign_in(account.username, account.password, account.totp_secret)
        ctx.say(f"  {username} onboarded and signed in once: {before.outcome}")
    else:
        ctx.say(
            f"  {username} created (no confidentiality agreement is published, so it stays in onboarding)"
        )
    workforce.termination_schedule(
        actor=None, person=person, effective_at=clock.now(), reason="attack drill: leaver"
    )
    ctx.say(f"  {username} terminated through the workforce services")
    return account


def _onboard(person: Any, workforce: Any, workforce_selectors: Any) -> bool:
    """Pass the onboarding gates as HR would (witnessed signature, the
    onboarding courses recorded as completed). False when they cannot be
    passed here: no agreement is published, or activation is refused."""
    current = workforce_selectors.agreement_current()
    if current is None:
        return False
    workforce.agreement_sign(actor=None, person=person, document=current, signer_name="Drill Leaver")
    for assignment in workforce_selectors.person_training(person=person):
        if assignment.completed_at is None and assignment.course.required_for_onboarding:
            workforce.training_complete(actor=None, person=person, course=assignment.course, source="drill")
    try:
        workforce.person_activate(actor=None, person=person)
    except workforce.OnboardingIncomplete:
        return False
    return True


def _leaver_attack(ctx: DrillContext, account: DrillAccount) -> Trace:
    client = ctx.client("terminated_login")
    outcome = client.sign_in(account.username, account.password, account.totp_secret)
    ctx.say(f"  {account.username} tries to sign in with the right password: {outcome.outcome}")
    if outcome.outcome == "throttled":
        ctx.say(f"  warning: {throttle_hint()}")
    trace = Trace({account.username}, {account.user_id}, attack_actions=frozenset({"login"}))
    trace.notes.append(f"sign-in {outcome.outcome}")
    if outcome.ok:
        trace.notes.append("A TERMINATED ACCOUNT SIGNED IN")
    return trace


# --- break-glass abuse -----------------------------------------------------------------------------
def _glass_prepare(ctx: DrillContext) -> tuple[DrillAccount, list[str]]:
    uses = int(ctx.param("break_glass_repeat", "threshold"))
    patients = accounts.pool_ensure(uses)
    ctx.say(f"  {uses} decoy patients (break_glass_repeat threshold)")
    return ctx.account(AccountSpec(ctx.username("breakglass"), "Glassbreaker", "physician")), patients


def _glass_attack(ctx: DrillContext, prepared: tuple[DrillAccount, list[str]]) -> Trace:
    user, patients = prepared
    client = ctx.client("break_glass_abuse")
    _sign_in(client, user)
    granted = 0
    for patient_id in patients:
        answer = client.break_glass(
            patient_id, totp_secret=user.totp_secret, justification=BREAK_GLASS_REASON
        )
        if answer.status in {301, 302, 303}:
            granted += 1
            client.open_chart(patient_id)
    ctx.say(f"  {user.username} broke the glass {granted} times out of {len(patients)} (with step-up)")
    trace = Trace({user.username}, {user.user_id}, set(patients), frozenset({"break_glass"}))
    trace.notes.append(f"{granted} grants")
    return trace


SCENARIOS: dict[str, Scenario] = {
    scenario.code: scenario
    for scenario in (
        Scenario(
            "credential_stuffing",
            "Credential stuffing",
            "Wrong passwords for several drill accounts from one address, then one correct sign-in.",
            ("failed_login_address", "login_after_failures"),
            _stuffing_prepare,
            _stuffing_attack,
        ),
        Scenario(
            "colleague_snooping",
            "Snooping on a colleague",
            "A drill pharmacist opens a decoy employee's chart: same surname, no care relationship.",
            ("employee_access", "family_snooping"),
            _snoop_prepare,
            _snoop_attack,
        ),
        Scenario(
            "mass_lookup",
            "Mass lookup",
            "A drill registration clerk opens more distinct decoy patients than the role's threshold.",
            ("mass_access",),
            _mass_prepare,
            _mass_attack,
        ),
        Scenario(
            "terminated_login",
            "Terminated account signs in",
            "A drill employee is terminated through the workforce services, then tries to sign in.",
            ("inactive_account_login",),
            _leaver_prepare,
            _leaver_attack,
        ),
        Scenario(
            "break_glass_abuse",
            "Break-glass abuse",
            "One drill physician breaks the glass on several decoy patients in a row, with step-up.",
            ("break_glass", "break_glass_repeat"),
            _glass_prepare,
            _glass_attack,
        ),
    )
}

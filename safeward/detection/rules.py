"""The rule catalog: every rule's code, default severity, parameters with
their defaults, and the validation of a configuration (docs/detection.md
has the decision table).

A rule's configuration lives in `DetectionRule` (code, enabled, severity,
params). `rule_params_validate` turns what an operator typed into the full,
normalised parameter set or raises `ValidationError` naming the parameter
and what is wrong with it; nothing is stored before that succeeds.

The evaluation of the rules over a batch of audit events is in
`safeward.detection.evaluate`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from safeward.detection.models import Severity


class Code:
    """The rule codes (fixed: alerts, drills and the UI refer to them)."""

    MASS_ACCESS = "mass_access"
    UNEXPLAINED_ACCESS = "unexplained_access"
    VIP_ACCESS = "vip_access"
    EMPLOYEE_ACCESS = "employee_access"
    FAMILY_SNOOPING = "family_snooping"
    NEIGHBOUR_SNOOPING = "neighbour_snooping"
    OWN_RECORD = "own_record"
    DECEASED_ACCESS = "deceased_access"
    AFTER_HOURS = "after_hours"
    BREAK_GLASS = "break_glass"
    BREAK_GLASS_REPEAT = "break_glass_repeat"
    BULK_EXPORT = "bulk_export"
    FAILED_LOGIN_ACCOUNT = "failed_login_account"
    FAILED_LOGIN_ADDRESS = "failed_login_address"
    LOGIN_AFTER_FAILURES = "login_after_failures"
    NEW_ZONE_LOGIN = "new_zone_login"
    INACTIVE_ACCOUNT_LOGIN = "inactive_account_login"
    AUDIT_CHAIN_FAILURE = "audit_chain_failure"
    KEY_OPERATION = "key_operation"
    CONFIG_CHANGE = "config_change"
    CANARY_ACCESS = "canary_access"
    BASELINE_OUTLIER = "baseline_outlier"
    CONCURRENT_SESSIONS = "concurrent_sessions"
    NEW_ADDRESS_LOGIN = "new_address_login"
    SEARCH_VOLUME = "search_volume"
    SEARCH_PAGING = "search_paging"
    NAME_PROBING = "name_probing"
    FHIR_PAGING = "fhir_paging"
    ASSET_REVIEW_LAPSED = "asset_review_lapsed"
    PHI_DISCOVERED = "phi_discovered"
    POLICY_REVIEW_OVERDUE = "policy_review_overdue"
    PATCHING_EXCEPTION_VOIDED = "patching_exception_voided"
    DEVICE_CONTROL_FAILING = "device_control_failing"
    # Evaluated by the vendors app's registered rule (ADR 1211).
    VENDOR_BULK_ACCESS = "vendor_bulk_access"
    INCIDENT_DEADLINE = "incident_deadline"
    # The door-event stream (safeward/facilities, ADR 1100).
    BADGE_UNAUTHORISED_ENTRY = "badge_unauthorised_entry"
    BADGE_OUTSIDE_SCHEDULE = "badge_outside_schedule"
    BADGE_TERMINATED = "badge_terminated"
    BADGE_REPEATED_DENIALS = "badge_repeated_denials"
    BADGE_IMPOSSIBLE_TRAVEL = "badge_impossible_travel"
    VISITOR_OVERSTAY = "visitor_overstay"
    CHART_WITHOUT_BADGE_IN = "chart_without_badge_in"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

# A parameter checker takes the raw value and returns the clean one, or raises
# ValueError with a message for the operator (the parameter name is added).
Checker = Callable[[Any], Any]


def _integer(minimum: int, maximum: int) -> Checker:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"must be a whole number from {minimum} to {maximum}")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"must be a whole number from {minimum} to {maximum}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum} (negative or zero thresholds are not allowed)")
        if number > maximum:
            raise ValueError(f"must be at most {maximum}")
        return number

    return check


def _number(minimum: float, maximum: float) -> Checker:
    def check(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"must be a number from {minimum} to {maximum}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number from {minimum} to {maximum}") from None
        if not minimum <= number <= maximum:
            raise ValueError(f"must be from {minimum} to {maximum}")
        return number

    return check


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("must be true or false")


def known_roles() -> set[str]:
    from safeward.identity.roles import BY_CODE

    return set(BY_CODE)


def known_departments() -> set[str]:
    from safeward.identity.models import Department

    return set(Department.objects.values_list("code", flat=True))


def _role_thresholds(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ValueError('must map role codes to thresholds, e.g. {"nurse": 80}')
    roles = known_roles()
    clean: dict[str, int] = {}
    for role, threshold in value.items():
        if role not in roles:
            raise ValueError(f"unknown role {str(role)[:40]!r}; known roles: {', '.join(sorted(roles))}")
        try:
            clean[str(role)] = _integer(1, 100_000)(threshold)
        except ValueError as error:
            raise ValueError(f"threshold for {role}: {error}") from None
    return clean


def parse_hours(text: str) -> tuple[int, int]:
    """'HH:MM-HH:MM' as minutes since midnight (start, end); end may be
    earlier than start for a night shift, '00:00-24:00' is the whole day."""
    match = _HOURS.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'{str(text)[:20]!r} is not "HH:MM-HH:MM" (for example "07:00-19:00")')
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start > 24 * 60 or end > 24 * 60 or (h1 == 24 and m1) or (h2 == 24 and m2):
        raise ValueError(f"{text!r} is not a time of day (at most 24:00)")
    if start == end:
        raise ValueError(f"{text!r} is an empty period; use 00:00-24:00 for the whole day")
    return start, end


def _days(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"days must be a non-empty list of {', '.join(WEEKDAYS)}")
    days: list[str] = []
    for day in value:
        name = day.strip().lower() if isinstance(day, str) else ""
        short = name[:3]
        if short not in WEEKDAYS or name not in (short, _FULL_DAY[short]):
            raise ValueError(f"{str(day)[:20]!r} is not a weekday ({', '.join(WEEKDAYS)})")
        if short not in days:
            days.append(short)
    return sorted(days, key=WEEKDAYS.index)


_FULL_DAY = {
    "mon": "monday",
    "tue": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}


def _schedule(value: Any, *, scoped: bool) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError('a schedule is {"days": [...], "hours": "HH:MM-HH:MM"}')
    allowed = {"days", "hours"} | ({"role", "department"} if scoped else set())
    extra = set(value) - allowed
    if extra:
        raise ValueError(f"unknown schedule key(s) {', '.join(sorted(map(str, extra)))}")
    hours = str(value.get("hours") or "")
    parse_hours(hours)
    clean: dict[str, Any] = {"days": _days(value.get("days")), "hours": hours}
    if scoped:
        role = str(value.get("role") or "")
        department = str(value.get("department") or "")
        if not role and not department:
            raise ValueError("a unit schedule names a role, a department or both")
        if role and role not in known_roles():
            raise ValueError(f"unknown role {role[:40]!r} in a schedule")
        if department and department not in known_departments():
            raise ValueError(f"unknown department {department[:40]!r} in a schedule")
        clean["role"] = role
        clean["department"] = department
    return clean


def _schedules(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of unit schedules")
    return [_schedule(item, scoped=True) for item in value]


def _default_schedule(value: Any) -> dict[str, Any]:
    return _schedule(value, scoped=False)


@dataclass(frozen=True)
class Param:
    default: Any
    check: Checker
    help: str


# A rule over the clean parameters together (each valid alone): the names of the
# parameters that contradict each other, with the message.
Consistency = Callable[[Mapping[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class RuleSpec:
    code: str
    title: str
    severity: Severity
    description: str
    params: dict[str, Param] = field(default_factory=dict)
    consistency: tuple[Consistency, ...] = ()

    def defaults(self) -> dict[str, Any]:
        return {name: param.default for name, param in self.params.items()}


ALL_DAYS = list(WEEKDAYS)
_GROUP = Param(24 * 60, _integer(1, 30 * 24 * 60), "repeats within this many minutes join the open alert")
_UNEXPLAINED_ONLY = Param(True, _boolean, "alert only when no care relationship explains the access")


def _spec(
    code: str,
    title: str,
    severity: Severity,
    description: str,
    *,
    consistency: tuple[Consistency, ...] = (),
    **params: Param,
) -> tuple[str, RuleSpec]:
    params = {**params, "group_minutes": _GROUP}
    return code, RuleSpec(code, title, severity, description, params, consistency)


def _baseline_history_fits(params: Mapping[str, Any]) -> dict[str, str]:
    """More active days required than the baseline period has days can never
    be met: the learned baseline would be off for every vendor, silently."""
    if params["baseline_min_days"] > params["baseline_days"]:
        return {
            "baseline_min_days": (
                f"baseline_min_days ({params['baseline_min_days']}) must not exceed baseline_days"
                f" ({params['baseline_days']}): a vendor cannot have more active days than the"
                " baseline period has, so the learned baseline would never apply."
            )
        }
    return {}


CATALOG: dict[str, RuleSpec] = dict(
    [
        _spec(
            Code.MASS_ACCESS,
            "Mass access",
            Severity.HIGH,
            "More distinct patients than the role's threshold within the window.",
            window_minutes=Param(60, _integer(1, 24 * 60), "length of the sliding window"),
            threshold=Param(50, _integer(1, 100_000), "distinct patients allowed in the window (any role)"),
            role_thresholds=Param(
                {"nurse": 80, "physician": 60, "registration_clerk": 120, "billing_clerk": 150},
                _role_thresholds,
                "per-role thresholds; a user with several roles gets the highest",
            ),
        ),
        _spec(
            Code.UNEXPLAINED_ACCESS,
            "Unexplained chart access",
            Severity.MEDIUM,
            "Chart accesses no care relationship explains (each also goes to the review queue).",
            window_minutes=Param(60, _integer(1, 24 * 60), "length of the sliding window"),
            threshold=Param(3, _integer(1, 10_000), "distinct unexplained patients before an alert"),
        ),
        _spec(
            Code.VIP_ACCESS,
            "VIP record opened",
            Severity.HIGH,
            "A chart flagged VIP / public figure was opened.",
            only_unexplained=_UNEXPLAINED_ONLY,
        ),
        _spec(
            Code.EMPLOYEE_ACCESS,
            "Employee record opened",
            Severity.MEDIUM,
            "The chart of a hospital employee was opened.",
            only_unexplained=_UNEXPLAINED_ONLY,
        ),
        _spec(
            Code.FAMILY_SNOOPING,
            "Same surname as the user",
            Severity.HIGH,
            "The patient has the user's surname.",
            only_unexplained=_UNEXPLAINED_ONLY,
        ),
        _spec(
            Code.NEIGHBOUR_SNOOPING,
            "Same address as the user",
            Severity.HIGH,
            "The patient lives at the user's address.",
            only_unexplained=_UNEXPLAINED_ONLY,
        ),
        _spec(
            Code.OWN_RECORD,
            "User opened their own record",
            Severity.MEDIUM,
            "The patient is the user (same national id or an explicit link).",
            only_unexplained=Param(False, _boolean, "alert only when no care relationship explains it"),
        ),
        _spec(
            Code.DECEASED_ACCESS,
            "Deceased patient's record opened",
            Severity.LOW,
            "The chart of a deceased patient was opened.",
            only_unexplained=_UNEXPLAINED_ONLY,
        ),
        _spec(
            Code.AFTER_HOURS,
            "Access outside the unit schedule",
            Severity.LOW,
            "A chart access outside the schedule of the user's department and role.",
            default_schedule=Param(
                {"days": ALL_DAYS, "hours": "06:00-22:00"},
                _default_schedule,
                "schedule for users no unit schedule matches",
            ),
            schedules=Param([], _schedules, "unit schedules: role and/or department, days, hours"),
            only_unexplained=_UNEXPLAINED_ONLY,
        ),
        _spec(Code.BREAK_GLASS, "Break-glass used", Severity.MEDIUM, "Every break-glass start."),
        _spec(
            Code.BREAK_GLASS_REPEAT,
            "Repeated break-glass",
            Severity.HIGH,
            "One user breaking the glass repeatedly within the window.",
            window_hours=Param(24, _integer(1, 24 * 30), "length of the window"),
            threshold=Param(3, _integer(2, 1000), "uses within the window that escalate"),
        ),
        _spec(
            Code.BULK_EXPORT,
            "Bulk export or print",
            Severity.HIGH,
            "Exports and prints of more distinct patients than the threshold within the window.",
            window_minutes=Param(60, _integer(1, 24 * 60), "length of the window"),
            threshold=Param(20, _integer(1, 100_000), "distinct patients exported or printed"),
        ),
        _spec(
            Code.FAILED_LOGIN_ACCOUNT,
            "Failed sign-ins on one account",
            Severity.MEDIUM,
            "Failed sign-ins for one username within the window (password guessing).",
            window_minutes=Param(15, _integer(1, 24 * 60), "length of the window"),
            threshold=Param(5, _integer(2, 10_000), "failures within the window"),
        ),
        _spec(
            Code.FAILED_LOGIN_ADDRESS,
            "Failed sign-ins from one address",
            Severity.HIGH,
            "Failures from one address across usernames (credential stuffing, password spraying).",
            window_minutes=Param(15, _integer(1, 24 * 60), "length of the window"),
            threshold=Param(10, _integer(2, 100_000), "failures within the window"),
            distinct_usernames=Param(4, _integer(2, 10_000), "or this many different usernames tried"),
        ),
        _spec(
            Code.LOGIN_AFTER_FAILURES,
            "Sign-in after many failures",
            Severity.HIGH,
            "A successful sign-in preceded by failures for the same username.",
            window_minutes=Param(30, _integer(1, 24 * 60), "how far back failures count"),
            failures=Param(3, _integer(1, 10_000), "failures before the success"),
        ),
        _spec(
            Code.NEW_ZONE_LOGIN,
            "Sign-in from a new network zone",
            Severity.MEDIUM,
            "A sign-in from a network zone the user never signed in from.",
            lookback_days=Param(90, _integer(1, 3650), "history considered"),
            min_history=Param(3, _integer(1, 1000), "earlier sign-ins needed before a new zone counts"),
        ),
        _spec(
            Code.INACTIVE_ACCOUNT_LOGIN,
            "Sign-in by a disabled, terminated or dormant account",
            Severity.HIGH,
            "A sign-in attempt by an account that should not be used.",
            dormant_days=Param(90, _integer(1, 3650), "no sign-in for this long makes an account dormant"),
        ),
        _spec(
            Code.AUDIT_CHAIN_FAILURE,
            "Audit chain verification failed",
            Severity.CRITICAL,
            "A verification of the audit trail reported a problem.",
        ),
        _spec(Code.KEY_OPERATION, "Key operation", Severity.MEDIUM, "A key was created, rotated or retired."),
        _spec(Code.CONFIG_CHANGE, "Configuration change", Severity.LOW, "A security configuration changed."),
        _spec(
            Code.CANARY_ACCESS,
            "Canary record touched",
            Severity.CRITICAL,
            "A decoy patient no legitimate workflow touches was accessed.",
        ),
        _spec(
            Code.BASELINE_OUTLIER,
            "Unusual number of patients for this user",
            Severity.MEDIUM,
            "Today's distinct patients far above the user's own history or their peers' (robust z-score).",
            history_days=Param(28, _integer(7, 365), "days of history compared against"),
            min_history_days=Param(7, _integer(3, 365), "days with activity needed for a personal baseline"),
            z_threshold=Param(3.5, _number(1.0, 50.0), "robust z-score that counts as an outlier"),
            mad_floor=Param(2.0, _number(0.5, 1000.0), "smallest spread used (quiet users)"),
            min_count=Param(20, _integer(1, 100_000), "never alert below this many patients in a day"),
            min_peers=Param(5, _integer(2, 10_000), "peer-days needed for a peer baseline"),
        ),
    ]
)

# Shared accounts (issue 11, item 9; ADR 0725).
CATALOG.update(
    [
        _spec(
            Code.CONCURRENT_SESSIONS,
            "One account signed in from several clients at once",
            Severity.MEDIUM,
            "A sign-in while other sessions of the account are open from other clients "
            "(address and browser): a shared or stolen account.",
            min_clients=Param(2, _integer(2, 100), "distinct clients with open sessions at the sign-in"),
        ),
        _spec(
            Code.NEW_ADDRESS_LOGIN,
            "Sign-in from a new address",
            Severity.MEDIUM,
            "A sign-in from an address the user never signed in from.",
            lookback_days=Param(90, _integer(1, 3650), "history considered"),
            min_history=Param(3, _integer(1, 1000), "earlier sign-ins needed before a new address counts"),
            outside_only=Param(True, _boolean, "only addresses outside every defined network zone"),
        ),
    ]
)

# Search harvesting (ADR 0728): what searches disclosed, read from the
# per-patient index of multi-patient audit events (ADR 0208).
CATALOG.update(
    [
        _spec(
            Code.SEARCH_VOLUME,
            "Search result volume",
            Severity.HIGH,
            "More distinct patients in one user's search results than the threshold within the window.",
            window_minutes=Param(60, _integer(1, 24 * 60), "length of the sliding window"),
            threshold=Param(100, _integer(1, 100_000), "distinct patients in search results allowed"),
        ),
        _spec(
            Code.SEARCH_PAGING,
            "Deep paging through search results",
            Severity.MEDIUM,
            "A user paged deep into the results of a patient search.",
            page=Param(4, _integer(2, 10_000), "the result page that counts as deep"),
        ),
        _spec(
            Code.NAME_PROBING,
            "Name-prefix probing",
            Severity.HIGH,
            "Many different short name queries without a date of birth or identifier within the window.",
            window_minutes=Param(15, _integer(1, 24 * 60), "length of the sliding window"),
            threshold=Param(10, _integer(2, 10_000), "distinct short name queries"),
            max_letters=Param(3, _integer(1, 8), "a query whose shortest word has at most this many letters"),
        ),
        _spec(
            Code.FHIR_PAGING,
            "FHIR client paging through patients",
            Severity.HIGH,
            "A FHIR client followed a patient search's next links past the limits within the window.",
            window_minutes=Param(60, _integer(1, 24 * 60), "length of the sliding window"),
            pages=Param(5, _integer(2, 10_000), "next links followed"),
            patients=Param(100, _integer(1, 100_000), "or distinct patients the search handed out"),
        ),
        _spec(
            Code.ASSET_REVIEW_LAPSED,
            "Asset review or assessment lapsed",
            Severity.MEDIUM,
            "The asset register's daily sweep found an asset past its review or risk-assessment date.",
        ),
        _spec(
            Code.PHI_DISCOVERED,
            "Plaintext PHI found in a file",
            Severity.HIGH,
            "The PHI discovery scanner found patient data in an unencrypted file (ADR 0810).",
        ),
        _spec(
            Code.POLICY_REVIEW_OVERDUE,
            "Policy review overdue",
            Severity.MEDIUM,
            "The policy library's daily sweep found a published document past its review date;"
            " the alert names the document's owner (ADR 0930).",
        ),
        _spec(
            Code.PATCHING_EXCEPTION_VOIDED,
            "Vulnerability exception voided",
            Severity.HIGH,
            "A compensating control of an approved vulnerability exception failed, or the exception"
            " expired: the finding reopened with its clock restarted; the alert names the owner (ADR 1305).",
        ),
        _spec(
            Code.INCIDENT_DEADLINE,
            "Incident deadline near or passed",
            Severity.MEDIUM,
            "The incidents deadline sweep (`safeward incidents check-deadlines`) found a breach"
            " notification or a case task due within its warning time or overdue; one alert per"
            " deadline, its subject the case owner, raised to high once overdue (ADR 1410).",
        ),
        _spec(
            Code.DEVICE_CONTROL_FAILING,
            "Device compensating control failing or expired",
            Severity.HIGH,
            "The devices sweep found a compensating control that fails its live test or has expired;"
            " the devices it covers are red until it is fixed or renewed (ADR 1000).",
        ),
        _spec(
            Code.VENDOR_BULK_ACCESS,
            "Vendor reading more patients than its agreement allows",
            Severity.HIGH,
            "A vendor's accounts and OAuth clients together touched more distinct patients within the"
            " window than the ceiling for the PHI volume its agreement declares, or more in the last"
            " 24 h than the factor times its own learned daily baseline (a high percentile of its"
            " active days in the baseline period) and the floor, even under the ceiling (no PHI: any"
            " patient); evaluated by the vendors app (ADRs 1211, 1217).",
            window_hours=Param(24, _integer(1, 24 * 31), "length of the window"),
            none_threshold=Param(1, _integer(1, 1_000_000), "patients for a vendor declared to get no PHI"),
            low_threshold=Param(10, _integer(1, 1_000_000), "patients for a low-volume vendor"),
            medium_threshold=Param(100, _integer(1, 1_000_000), "patients for a medium-volume vendor"),
            high_threshold=Param(1000, _integer(1, 1_000_000), "patients for a high-volume vendor"),
            baseline_days=Param(
                28, _integer(7, 90), "days of the vendor's own history the baseline learns from"
            ),
            baseline_min_days=Param(
                7, _integer(1, 90), "active days of history below which only the declared ceiling applies"
            ),
            baseline_percentile=Param(
                90, _integer(50, 100), "percentile of the active days (100: the busiest)"
            ),
            baseline_factor=Param(3.0, _number(1.0, 100.0), "times the baseline the last 24 h may reach"),
            baseline_floor=Param(
                20, _integer(1, 1_000_000), "patients in 24 h below which the baseline never alerts"
            ),
            consistency=(_baseline_history_fits,),
        ),
        _spec(
            Code.BADGE_UNAUTHORISED_ENTRY,
            "Entry to a secure area without authorisation",
            Severity.HIGH,
            "A badge opened a door of a secure area its holder is not authorised for (ADR 1100).",
        ),
        _spec(
            Code.BADGE_OUTSIDE_SCHEDULE,
            "Entry outside the authorised schedule",
            Severity.MEDIUM,
            "An authorised person entered a secure area outside every window of their authorisations,"
            " in the door's time zone.",
        ),
        _spec(
            Code.BADGE_TERMINATED,
            "Badge of a terminated person used",
            Severity.CRITICAL,
            "A badge of a person who has left, or a badge on the recovery list, was presented at a door.",
        ),
        _spec(
            Code.BADGE_REPEATED_DENIALS,
            "Repeated door denials",
            Severity.MEDIUM,
            "One badge was denied at doors several times within the window.",
            window_minutes=Param(10, _integer(1, 24 * 60), "length of the sliding window"),
            threshold=Param(3, _integer(2, 1000), "denials within the window"),
        ),
        _spec(
            Code.BADGE_IMPOSSIBLE_TRAVEL,
            "Badge entry while signed in remotely",
            Severity.HIGH,
            "A person badged into a secure area while a session of theirs from a remote network zone"
            " was open.",
            idle_minutes=Param(30, _integer(1, 24 * 60), "a session seen this recently counts as open"),
        ),
        _spec(
            Code.VISITOR_OVERSTAY,
            "Visitor overstay",
            Severity.LOW,
            "A visitor is still signed in past the expected length of the visit plus the grace.",
            grace_minutes=Param(30, _integer(0, 24 * 60), "minutes past the expected end"),
        ),
        _spec(
            Code.CHART_WITHOUT_BADGE_IN,
            "Chart opened in a secure area without a badge-in",
            Severity.HIGH,
            "A chart was opened from a workstation placed inside a secure area by someone with no"
            " granted badge-in to that area within the shift before (ADR 1110).",
            shift_hours=Param(12, _integer(1, 48), "a badge-in this long before the chart access counts"),
            settle_minutes=Param(15, _integer(0, 24 * 60), "wait for late door-event imports"),
            lookback_minutes=Param(120, _integer(5, 7 * 24 * 60), "chart accesses each sweep judges"),
        ),
    ]
)

RULE_CODES: tuple[str, ...] = tuple(CATALOG)


def rule_spec(code: str) -> RuleSpec:
    try:
        return CATALOG[code]
    except KeyError:
        raise ValidationError(f"Unknown rule {str(code)[:64]!r}.", code="unknown_rule") from None


def rule_params_validate(code: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The full, clean parameter set for `code` (defaults for what is not
    given), or ValidationError naming every bad parameter."""
    spec = rule_spec(code)
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ValidationError("Parameters must be a JSON object.", code="invalid")
    errors: dict[str, list[str]] = {}
    unknown = sorted(str(name) for name in params if name not in spec.params)
    for name in unknown:
        known = ", ".join(sorted(spec.params))
        errors[name[:64]] = [f"Unknown parameter for {code}; known: {known}."]
    clean: dict[str, Any] = {}
    for name, param in spec.params.items():
        value = params.get(name, param.default)
        try:
            clean[name] = param.check(value)
        except ValueError as error:
            errors[name] = [f"{name}: {error}."]
    if not errors:  # each parameter valid alone; now together
        for rule in spec.consistency:
            errors.update({name: [message] for name, message in rule(clean).items()})
    if errors:
        raise ValidationError(errors)
    return clean


def severity_validate(value: str) -> str:
    if value not in Severity.values:
        raise ValidationError(
            {"severity": [f"Severity must be one of {', '.join(Severity.values)}."]}, code="invalid"
        )
    return value


@dataclass(frozen=True)
class RuleConfig:
    code: str
    enabled: bool
    severity: str
    params: dict[str, Any]


def effective_config(code: str, *, enabled: bool, severity: str, params: Mapping[str, Any]) -> RuleConfig:
    """A stored configuration merged over the defaults. A stored value that no
    longer validates (an edit by hand in the database, a role removed from the
    catalog) falls back to the default for that parameter, never to 'off'."""
    spec = CATALOG[code]
    merged = spec.defaults()
    for name, param in spec.params.items():
        if name in params:
            try:
                merged[name] = param.check(params[name])
            except ValueError:
                merged[name] = param.default
    for rule in spec.consistency:  # stored before the rule existed, or edited by hand
        for name in rule(merged):
            merged[name] = spec.params[name].default
    if severity not in Severity.values:
        severity = spec.severity.value
    return RuleConfig(code, enabled, severity, merged)

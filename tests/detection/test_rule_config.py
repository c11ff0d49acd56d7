"""Rule configuration: defaults on migrate, validation with clear messages,
nothing stored on bad input, changes audited, permission required."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from safeward.audit.models import AuditEvent
from safeward.detection.models import DetectionRule
from safeward.detection.rules import RULE_CODES, effective_config, rule_params_validate
from safeward.detection.selectors import rule_configs
from safeward.detection.services import rule_config_save
from safeward.identity.errors import NotPermitted

pytestmark = pytest.mark.django_db

CONTRACT_CODES = {
    "mass_access", "unexplained_access", "vip_access", "employee_access", "family_snooping",
    "neighbour_snooping", "own_record", "deceased_access", "after_hours", "break_glass",
    "break_glass_repeat", "bulk_export", "failed_login_account", "failed_login_address",
    "login_after_failures", "new_zone_login", "inactive_account_login", "audit_chain_failure",
    "key_operation", "config_change", "canary_access", "baseline_outlier",
    "concurrent_sessions", "new_address_login",
    "search_volume", "search_paging", "name_probing", "fhir_paging",
    "asset_review_lapsed", "phi_discovered", "policy_review_overdue",
    "patching_exception_voided",
    "device_control_failing", "vendor_bulk_access", "incident_deadline",
    "badge_unauthorised_entry", "badge_outside_schedule", "badge_terminated",
    "badge_repeated_denials", "badge_impossible_travel", "visitor_overstay", "chart_without_badge_in",
}  # fmt: skip


def test_every_rule_of_the_contract_exists_with_a_default_row():
    assert set(RULE_CODES) == CONTRACT_CODES
    assert set(DetectionRule.objects.values_list("code", flat=True)) == CONTRACT_CODES
    assert DetectionRule.objects.get(code="canary_access").severity == "critical"


def _messages(error: ValidationError) -> str:
    return " ".join(message for messages in error.message_dict.values() for message in messages)


@pytest.mark.parametrize(
    ("code", "params", "expected"),
    [
        ("mass_access", {"threshold": -5}, "threshold: must be at least 1"),
        ("mass_access", {"window_minutes": 0}, "window_minutes: must be at least 1"),
        ("mass_access", {"threshold": "many"}, "threshold: must be a whole number"),
        ("mass_access", {"threshold": True}, "threshold: must be a whole number"),
        ("mass_access", {"role_thresholds": {"surgeon": 10}}, "unknown role 'surgeon'"),
        ("mass_access", {"role_thresholds": {"nurse": -1}}, "threshold for nurse: must be at least 1"),
        ("mass_access", {"role_thresholds": ["nurse"]}, "must map role codes to thresholds"),
        ("mass_access", {"treshold": 5}, "Unknown parameter for mass_access"),
        ("after_hours", {"default_schedule": {"days": ["mon"], "hours": "7-19"}}, 'is not "HH:MM-HH:MM"'),
        (
            "after_hours",
            {"default_schedule": {"days": ["mon"], "hours": "25:00-07:00"}},
            'is not "HH:MM-HH:MM"',
        ),
        ("after_hours", {"default_schedule": {"days": ["mon"], "hours": "08:00-08:00"}}, "empty period"),
        (
            "after_hours",
            {"default_schedule": {"days": ["funday"], "hours": "08:00-17:00"}},
            "is not a weekday",
        ),
        ("after_hours", {"default_schedule": {"days": [], "hours": "08:00-17:00"}}, "non-empty list"),
        (
            "after_hours",
            {"schedules": [{"role": "wizard", "days": ["mon"], "hours": "08:00-17:00"}]},
            "unknown role 'wizard'",
        ),
        (
            "after_hours",
            {"schedules": [{"department": "nowhere", "days": ["mon"], "hours": "08:00-17:00"}]},
            "unknown department 'nowhere'",
        ),
        (
            "after_hours",
            {"schedules": [{"days": ["mon"], "hours": "08:00-17:00"}]},
            "names a role, a department",
        ),
        ("baseline_outlier", {"z_threshold": -1}, "z_threshold: must be from"),
        ("vip_access", {"only_unexplained": "yes"}, "must be true or false"),
        ("break_glass_repeat", {"threshold": 1}, "must be at least 2"),
        # ADR 1217's learned baseline needs more active days than the period has: never on.
        (
            "vendor_bulk_access",
            {"baseline_days": 14, "baseline_min_days": 20},
            "baseline_min_days (20) must not exceed baseline_days (14)",
        ),
        ("vendor_bulk_access", {"baseline_min_days": 29}, "must not exceed baseline_days (28)"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(code, params, expected):
    with pytest.raises(ValidationError) as caught:
        rule_params_validate(code, params)
    assert expected in _messages(caught.value)


def test_the_baseline_may_require_every_day_of_its_period():
    params = rule_params_validate("vendor_bulk_access", {"baseline_days": 14, "baseline_min_days": 14})
    assert (params["baseline_days"], params["baseline_min_days"]) == (14, 14)


def test_a_stored_baseline_that_could_never_apply_falls_back_to_the_default_history():
    """Saved before the check existed (or edited by hand): the learned baseline
    stays on with the default minimum, never silently off."""
    config = effective_config(
        "vendor_bulk_access",
        enabled=True,
        severity="high",
        params={"baseline_days": 10, "baseline_min_days": 30},
    )
    assert (config.params["baseline_days"], config.params["baseline_min_days"]) == (10, 7)


def test_unknown_rule_and_severity_are_refused():
    with pytest.raises(ValidationError, match="Unknown rule"):
        rule_params_validate("tea_break", {})
    with pytest.raises(ValidationError, match="Severity must be one of"):
        rule_config_save(actor=None, code="bulk_export", enabled=True, severity="apocalyptic", params={})


def test_a_refused_change_stores_nothing_and_audits_nothing():
    before = DetectionRule.objects.get(code="mass_access").params
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        rule_config_save(
            actor=None, code="mass_access", enabled=True, severity="high", params={"threshold": -1}
        )
    assert DetectionRule.objects.get(code="mass_access").params == before
    assert AuditEvent.objects.count() == events


def test_a_valid_change_is_stored_normalised_and_audited(make_user):
    officer = make_user("security_officer")
    rule_config_save(
        actor=officer,
        code="after_hours",
        enabled=True,
        severity="medium",
        params={"schedules": [{"role": "nurse", "days": ["Monday", "tue"], "hours": "19:00-07:00"}]},
    )
    rule = DetectionRule.objects.get(code="after_hours")
    assert rule.params["schedules"] == [
        {"days": ["mon", "tue"], "hours": "19:00-07:00", "role": "nurse", "department": ""}
    ]
    assert rule.params["default_schedule"]["hours"] == "06:00-22:00"  # defaults filled in
    assert rule.updated_by_id == officer.pk
    event = AuditEvent.objects.filter(action="config_change", resource_type="DetectionRule").latest("id")
    assert event.actor_id == officer.pk
    assert event.detail["rule"] == "after_hours"
    assert event.detail["changed"] == ["schedules", "severity"]
    assert rule_configs()["after_hours"].severity == "medium"


def test_only_the_security_officer_may_change_rules(make_user):
    nurse = make_user("nurse")
    with pytest.raises(NotPermitted):
        rule_config_save(actor=nurse, code="mass_access", enabled=False, severity="high", params={})
    assert DetectionRule.objects.get(code="mass_access").enabled


def test_a_stored_value_broken_by_hand_falls_back_to_the_default():
    DetectionRule.objects.filter(code="bulk_export").update(params={"threshold": -3, "window_minutes": 30})
    config = rule_configs()["bulk_export"]
    assert config.params["threshold"] == 20
    assert config.params["window_minutes"] == 30

"""`safeward check` reports each stored rule configuration that input
validation (test_rule_config.py) would refuse: written by an older version,
by hand or by a migration, or naming a department since removed. It names
the rule, what is wrong and where to fix it, never crashes, and the rule
keeps running on its defaults meanwhile."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from safeward.detection.checks import check_rule_configs
from safeward.detection.models import DetectionRule
from safeward.detection.selectors import rule_config, rule_configs_invalid
from safeward.detection.services import rule_config_save

pytestmark = pytest.mark.django_db


def _store(code: str, **values) -> None:
    # What an older version or a hand edit left: straight into the table, no validation.
    DetectionRule.objects.filter(code=code).update(**values)


def _findings() -> dict[str, str]:
    return {
        message.msg.split("'")[1]: f"{message.id} {message.msg} {message.hint}"
        for message in check_rule_configs(None, databases=["default"])
    }


def test_the_default_rules_pass():
    assert rule_configs_invalid() == []
    assert check_rule_configs(None, databases=["default"]) == []


def test_only_with_the_database():
    _store("mass_access", params={"threshold": -1})
    assert check_rule_configs(None) == []


def test_each_bad_stored_rule_is_reported_with_what_is_wrong_and_what_to_do():
    _store("mass_access", params={"threshold": -5, "treshold": 5})
    _store("bulk_export", severity="urgent")
    _store("vip_access", params=["not", "an", "object"])
    _store("vendor_bulk_access", params={"baseline_days": 14, "baseline_min_days": 20})
    _store(
        "after_hours",
        params={"schedules": [{"department": "closed-ward", "days": ["mon"], "hours": "08:00-17:00"}]},
    )
    DetectionRule.objects.create(code="retired_rule", severity="high", params={})

    found = _findings()

    assert set(found) == {
        "mass_access",
        "bulk_export",
        "vip_access",
        "vendor_bulk_access",
        "after_hours",
        "retired_rule",
    }
    assert found["mass_access"].startswith("safeward.W701")
    assert "threshold: must be at least 1" in found["mass_access"]
    assert "Unknown parameter for mass_access" in found["mass_access"]
    assert "/detection/rules/mass_access/" in found["mass_access"]
    assert "runs with the default" in found["mass_access"]
    assert "Severity must be one of" in found["bulk_export"]
    assert "Parameters must be a JSON object" in found["vip_access"]
    assert "must not exceed baseline_days" in found["vendor_bulk_access"]
    assert "unknown department 'closed-ward'" in found["after_hours"]
    assert found["retired_rule"].startswith("safeward.I702")
    # The rules run meanwhile, on their defaults for the bad values.
    assert rule_config(code="mass_access").params["threshold"] == 50
    assert rule_config(code="bulk_export").severity == "high"


def test_a_value_no_checker_expected_is_reported_not_raised(monkeypatch):
    from safeward.detection import selectors

    def broken(code, params):
        raise TypeError("unexpected")

    monkeypatch.setattr(selectors, "rule_params_validate", broken)
    [problem] = [p for p in rule_configs_invalid() if p.code == "mass_access"]
    assert problem.problems == ("a stored value cannot be checked (TypeError)",)


def test_the_check_command_fails_on_a_bad_rule_until_it_is_saved_again(make_user):
    _store("mass_access", params={"window_minutes": 0})
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemCheckError, match=r"safeward\.W701") as failed:
        call_command(
            "check", "--database", "default", "--tag", "safeward", "--fail-level", "WARNING",
            stdout=out, stderr=err,
        )  # fmt: skip
    assert "mass_access" in str(failed.value)
    assert "window_minutes: must be at least 1" in str(failed.value)

    rule_config_save(
        actor=make_user("security_officer"), code="mass_access", enabled=True, severity="high", params={}
    )
    call_command("check", "--database", "default", "--tag", "safeward", "--fail-level", "WARNING", stdout=out)

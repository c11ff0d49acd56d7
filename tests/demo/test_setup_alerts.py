"""Installing SafeWard (the first keys at `migrate`, the demo seed) raises no
alert; key operations and configuration changes by anyone else still do
(ADR 0404)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command

from safeward.audit import context
from safeward.audit.apps import _create_first_keys
from safeward.audit.models import AuditEvent
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.crypto import services as crypto_services
from safeward.crypto.models import DataKey
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending, rule_config_save

pytestmark = pytest.mark.django_db


def test_migrate_and_the_demo_seed_raise_no_alert(demo_settings, monkeypatch):
    # `migrate` on an empty keyring: the hook creates the first keys (here the
    # existing ones stand in for new ones, so the test database keeps working).
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    monkeypatch.setattr(crypto_services, "ensure_keys", lambda: list(DataKey.objects.all()[:2]))
    _create_first_keys(apps.get_app_config("crypto"))
    key_events = AuditEvent.objects.filter(action=Action.KEY_OPERATION.value, id__gt=before)
    assert key_events.count() == 2
    assert set(key_events.values_list("actor_username", "source")) == {("system:setup", "setup")}
    call_command("demo", "seed")
    detect_pending()
    # The demo plants two findings on purpose: an external service whose
    # assessment has lapsed (issue 13) and a policy whose review is overdue
    # (issue 18), and a CT scanner's expired compensating control (issue 14).
    # Nothing else may alert.
    # The door events plant a former employee's badge at the records room and an
    # unauthorised pharmacy entry (issue 15).
    planted = {
        "asset_review_lapsed",
        "policy_review_overdue",
        "device_control_failing",
        "badge_terminated",
        "badge_unauthorised_entry",
        # The registration clerk's record read on the records room's PC without a badge-in.
        "chart_without_badge_in",
        # The open snooping case's first tasks are due within hours (issue 19, ADR 1410).
        "incident_deadline",
        # InfuServ's sync account read more patients than its ceiling (issue 16, ADR 1212).
        "vendor_bulk_access",
    }
    assert list(Alert.objects.exclude(rule__in=planted).values_list("title", flat=True)) == []
    assert AuditEvent.objects.filter(action=Action.CONFIG_CHANGE.value, actor_username="").count() == 0


def test_key_operations_and_changes_by_real_actors_still_alert(make_user):
    officer = make_user("security_officer")
    crypto_services.keys_ensure(actor=crypto_services.Actor(name="cli:ops"))  # nothing to create
    audit_record(action=Action.KEY_OPERATION, actor_username="cli:ops", resource_type="crypto.datakey")
    with context.setup():
        # A signed-in person during setup is still a person.
        rule_config_save(actor=officer, code="bulk_export", enabled=True, severity="high", params={})
    # The setup actor's name outside setup is not setup.
    audit_record(action=Action.CONFIG_CHANGE, actor_username="system:setup", resource_type="Department")
    detect_pending()
    assert Alert.objects.filter(rule="key_operation").count() == 1
    changes = Alert.objects.filter(rule="config_change")
    assert changes.count() == 2
    assert {alert.subject_user_id for alert in changes} == {officer.pk, None}

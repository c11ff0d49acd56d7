"""Lapsed reviews and assessments: flagged on the dashboard and the list,
and raised as alerts by detection from the daily sweep's events."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.assets import selectors, services
from safeward.assets.models import Asset
from safeward.audit.models import AuditEvent
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _asset(name: str, **values) -> Asset:
    return services.asset_create(actor=None, values={"name": name, "kind": Asset.Kind.APPLICATION, **values})


def test_lapsed_review_assessment_and_never_assessed_external_storage(frozen_clock):
    today = frozen_clock.now().date()
    _asset("Current", next_review_due=today + dt.timedelta(days=30))
    _asset("Review overdue", next_review_due=today - dt.timedelta(days=1))
    _asset("Assessment overdue", next_assessment_due=today - dt.timedelta(days=3))
    _asset("Mail formatting bucket", kind=Asset.Kind.OBJECT_STORE, hosting=Asset.Hosting.CLOUD)
    _asset(
        "Assessed SaaS",
        kind=Asset.Kind.SAAS,
        last_assessed_on=today - dt.timedelta(days=10),
        next_assessment_due=today + dt.timedelta(days=355),
    )
    _asset("Retired", next_review_due=today - dt.timedelta(days=9), review_state=Asset.ReviewState.RETIRED)
    lapsed = {lapse.asset.name: lapse.reasons for lapse in selectors.assets_lapsed()}
    assert lapsed == {
        "Review overdue": ("review",),
        "Assessment overdue": ("assessment",),
        "Mail formatting bucket": ("assessment",),
    }


def test_the_sweep_raises_one_alert_per_lapsed_asset_and_repeats_join_it(frozen_clock):
    today = frozen_clock.now().date()
    lapsed = _asset("Shared drive", next_review_due=today - dt.timedelta(days=1))
    _asset("Fine", next_review_due=today + dt.timedelta(days=1))
    assert services.assets_sweep_lapsed() == 1
    event = AuditEvent.objects.get(resource_type="Asset", action="execute")
    assert event.resource_id == str(lapsed.pk)
    assert event.detail["lapsed"] == ["review"]
    detect_pending()
    alert = Alert.objects.get(rule="asset_review_lapsed")
    assert alert.title == f"Asset {lapsed.pk}: review lapsed"
    assert alert.detail["asset_id"] == str(lapsed.pk)

    frozen_clock.advance(hours=12)
    services.assets_sweep_lapsed()
    detect_pending()
    alert.refresh_from_db()
    assert Alert.objects.filter(rule="asset_review_lapsed").count() == 1
    assert alert.occurrences == 2


def test_recording_a_review_clears_the_lapse(frozen_clock):
    today = frozen_clock.now().date()
    asset = _asset("Shared drive", next_review_due=today - dt.timedelta(days=1))
    with pytest.raises(services.AssetError, match="future"):
        services.asset_record_review(actor=None, asset_id=asset.pk, kind="review", next_due=today)
    services.asset_record_review(
        actor=None, asset_id=asset.pk, kind="review", next_due=today + dt.timedelta(days=365)
    )
    asset.refresh_from_db()
    assert asset.last_reviewed_on == today
    assert asset.review_state == Asset.ReviewState.REVIEWED
    assert selectors.assets_lapsed() == []


def test_the_dashboard_flags_lapsed_assets_to_register_readers_only(client, frozen_clock):
    today = frozen_clock.now().date()
    _asset("Mail formatting bucket", kind=Asset.Kind.OBJECT_STORE, hosting=Asset.Hosting.CLOUD)
    _asset("Old server", next_review_due=today - dt.timedelta(days=40))
    officer = UserFactory(roles=["privacy_officer"], totp_secret=True)
    sign_in(client, officer)
    page = client.get("/").content.decode()
    assert 'id="assets-lapsed"' in page
    assert "2 lapsed" in page
    assert "Mail formatting bucket</a> — assessment lapsed" in page
    client.logout()
    nurse = UserFactory(roles=["nurse"], totp_secret=True)
    sign_in(client, nurse)
    assert 'id="assets-lapsed"' not in client.get("/").content.decode()

"""The demo register: the systems a newcomer expects, SafeWard's own stores,
and the lapses (a shared drive's review, the cloud e-mail formatting
service's assessment) already raised as alerts by detection."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward.assets import selectors
from safeward.assets.models import Asset
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending

pytestmark = pytest.mark.django_db


def test_the_demo_register_shows_its_lapses(demo_settings):
    call_command("demo", "seed")
    names = set(Asset.objects.values_list("name", flat=True))
    assert {
        "EHR database",
        "EHR (electronic health record)",
        "PACS",
        "Lab interface (HL7 v2 to the LIS)",
        "Shared drive S: (departments)",
        "E-mail formatting service",
        "SafeWard database",
        "SafeWard key store",
    } <= names
    lapsed = {lapse.asset.name: lapse.reasons for lapse in selectors.assets_lapsed()}
    assert lapsed == {
        "E-mail formatting service": ("review", "assessment"),
        "Shared drive S: (departments)": ("review",),
    }
    ehr = Asset.objects.get(name="EHR (electronic health record)")
    assert list(ehr.depends_on.values_list("name", flat=True)) == ["EHR database"]
    detect_pending()
    assert Alert.objects.filter(rule="asset_review_lapsed").count() == 2

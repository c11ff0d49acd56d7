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


def test_the_demo_register_shows_its_lapses(seeded_demo):
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


def test_every_demo_asset_has_an_owner_but_the_deliberate_one(seeded_demo):
    from safeward.assets.models import AssetClient
    from safeward.demo.assets import OWNERLESS, SMART_APP_ASSET
    from safeward.demo.phi_share import SHARE_NAME
    from safeward.workforce.models import Person

    ownerless = set(Asset.objects.filter(owner_person_id=None).values_list("name", flat=True))
    assert ownerless == {OWNERLESS}
    assert not Asset.objects.exclude(name=OWNERLESS).filter(custodian_person_id=None).exists()
    people = set(Person.objects.values_list("pk", flat=True))
    assert set(Asset.objects.exclude(name=OWNERLESS).values_list("owner_person_id", flat=True)) <= people
    share = Asset.objects.get(name=SHARE_NAME)
    assert Person.objects.get(pk=share.owner_person_id).last_name == "Halvorsen"  # the registration clerk
    # The SMART app is an asset with its OAuth client linked (the destination of its pulls).
    assert AssetClient.objects.get().asset.name == SMART_APP_ASSET
    # A second seed changes nobody's ownership.
    before = dict(Asset.objects.values_list("name", "owner_person_id"))
    call_command("demo", "seed")
    assert dict(Asset.objects.values_list("name", "owner_person_id")) == before

from __future__ import annotations

import pytest

from safeward.assets import services
from safeward.assets.models import Asset
from safeward.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_discovered_share_becomes_one_unreviewed_asset():
    first = services.register_discovered_share(actor=None, path="//fs01/radiology")
    again = services.register_discovered_share(actor=None, path="//fs01/radiology")
    assert first.pk == again.pk
    assert first.review_state == Asset.ReviewState.UNREVIEWED
    assert first.source == Asset.Source.DISCOVERED
    assert first.kind == Asset.Kind.FILE_SHARE
    assert (
        AuditEvent.objects.filter(resource_type="Asset", resource_id=str(first.pk), action="create").count()
        == 1
    )


def test_a_discovered_share_needs_a_path():
    with pytest.raises(services.AssetError):
        services.register_discovered_share(actor=None, path="  ")
    assert not Asset.objects.exists()

"""Reads for the PHI discovery pages, API and scheduled scan."""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet

from safeward.assets.models import Asset, DiscoveryFinding, DiscoveryScan, ScannedFile

QUEUE_STATUSES = (DiscoveryFinding.Status.OPEN, DiscoveryFinding.Status.CONFIRMED)


# What `safeward scan shares` says, and the scheduled scan notes, when there
# is no share to scan: not a failure (a hospital may keep no file shares),
# but the operator learns how to register one.
NO_SHARE_REGISTERED = (
    "No file share is registered, so there is nothing to scan. Register each share on the asset "
    'register (Assets, New asset: kind "File share", location the folder where it is mounted on this '
    "server) or several at once with `safeward assets import FILE.csv` (kind file_share); "
    "`safeward scan phi PATH` scans a folder once without registering it."
)


def _shares() -> QuerySet[Asset]:
    return Asset.objects.filter(kind=Asset.Kind.FILE_SHARE).exclude(review_state=Asset.ReviewState.RETIRED)


def file_shares_registered() -> int:
    """How many file shares are registered and not retired, wherever they are."""
    return _shares().count()


def _readable_here(share: Asset) -> bool:
    return share.location.startswith("/") and Path(share.location).is_dir()


def scannable_shares() -> list[Asset]:
    """Registered file shares (not retired) whose location is a local directory."""
    return [share for share in _shares() if _readable_here(share)]


def unscannable_shares() -> list[Asset]:
    """Registered file shares (not retired) this server cannot scan: the
    location is not a local directory (not mounted here, a UNC path)."""
    return [share for share in _shares() if not _readable_here(share)]


# The most unscannable shares a note names one by one.
_NOT_SCANNED_NAMED = 20


def not_scanned_note(shares: list[Asset]) -> str:
    """What `scan shares` and the scheduled scan's note say of registered
    shares this server could not read: asset ids, names and locations (the
    register's, no patient data) and what to do."""
    named = ", ".join(
        f"asset {share.pk} {share.name} ({share.location})" for share in shares[:_NOT_SCANNED_NAMED]
    )
    more = f" and {len(shares) - _NOT_SCANNED_NAMED} more" if len(shares) > _NOT_SCANNED_NAMED else ""
    return (
        f"Not scanned: {named}{more}: no local directory here. Mount each on this server and set its "
        "asset's location to that folder to have it scanned."
    )


def findings(*, status: str | None = None, asset_id: int | None = None) -> QuerySet[DiscoveryFinding]:
    """Findings, newest first; by default the triage queue (open and confirmed)."""
    rows = DiscoveryFinding.objects.select_related("asset")
    rows = rows.filter(status__in=QUEUE_STATUSES) if status is None else rows.filter(status=status)
    if asset_id is not None:
        rows = rows.filter(asset_id=asset_id)
    return rows


def finding_get(*, finding_id: int) -> DiscoveryFinding | None:
    return DiscoveryFinding.objects.select_related("asset", "scan").filter(pk=finding_id).first()


def scans_recent(*, limit: int = 10) -> list[DiscoveryScan]:
    return list(DiscoveryScan.objects.select_related("asset")[:limit])


def scan_unread_files(*, scan_id: int, limit: int = 200) -> list[ScannedFile]:
    """The files a scan could not read, with the recorded reason."""
    return list(ScannedFile.objects.filter(last_scan_id=scan_id, status="skipped").order_by("path")[:limit])


def share_at(location: str) -> Asset | None:
    """The registered file share at this location, if any."""
    return Asset.objects.filter(kind=Asset.Kind.FILE_SHARE, location=location).order_by("pk").first()

"""Continuity settings, read when used (tests override them)."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def backup_dir() -> Path:
    value = getattr(settings, "SAFEWARD_BACKUP_DIR", None)
    return Path(value) if value else Path(settings.VAR_DIR) / "backups"


def _setting(name: str) -> str:
    """A Django setting, else the environment variable of the same name."""
    return str(getattr(settings, name, None) or os.environ.get(name, "")).strip()


def backup_target() -> str:
    """Where `backup create` puts backups: "" for the backup folder, or
    s3://bucket/prefix (ADR 1507); `--target` overrides it."""
    return _setting("SAFEWARD_BACKUP_TARGET")


def backup_s3_endpoint_url() -> str:
    """An S3-compatible service's URL (MinIO, Ceph...); "" for AWS itself."""
    return _setting("SAFEWARD_BACKUP_S3_ENDPOINT_URL")


def backup_s3_region() -> str:
    return _setting("SAFEWARD_BACKUP_S3_REGION")


def backup_s3_part_bytes() -> int:
    """Multipart part size: S3 refuses parts under 5 MiB but the last; the file
    is read one part at a time, so this is also the upload's memory."""
    return max(5 << 20, int(getattr(settings, "SAFEWARD_BACKUP_S3_PART_BYTES", 16 << 20)))


def backup_s3_timeout_seconds() -> int:
    return max(1, int(getattr(settings, "SAFEWARD_BACKUP_S3_TIMEOUT_SECONDS", 30)))


def backup_keep() -> int:
    """How many backups `safeward backup create` keeps (older ones are rotated out)."""
    return max(1, int(getattr(settings, "SAFEWARD_BACKUP_KEEP", 14)))


def backup_max_age_hours() -> int:
    """The continuity.backup_recent control fails when the newest verified backup is older."""
    return max(1, int(getattr(settings, "SAFEWARD_BACKUP_MAX_AGE_HOURS", 26)))


def restore_test_max_age_days() -> int:
    return max(1, int(getattr(settings, "SAFEWARD_RESTORE_TEST_MAX_AGE_DAYS", 90)))


def schedule_grace_minutes() -> int:
    """A scheduled job counts as current up to its cadence plus this much (cron runs
    `schedule run-due` every few minutes, and a backup takes a while)."""
    return max(0, int(getattr(settings, "SAFEWARD_SCHEDULE_GRACE_MINUTES", 60)))


def schedule_stale_hours() -> int:
    """A run still marked as running after this long is taken as dead (a killed process)."""
    return max(1, int(getattr(settings, "SAFEWARD_SCHEDULE_STALE_HOURS", 12)))

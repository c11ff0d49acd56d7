"""Continuity settings, read when used (tests override them)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def backup_dir() -> Path:
    value = getattr(settings, "SAFEWARD_BACKUP_DIR", None)
    return Path(value) if value else Path(settings.VAR_DIR) / "backups"


def backup_keep() -> int:
    """How many backups `safeward backup create` keeps (older ones are rotated out)."""
    return max(1, int(getattr(settings, "SAFEWARD_BACKUP_KEEP", 14)))


def backup_max_age_hours() -> int:
    """The continuity.backup_recent control fails when the newest verified backup is older."""
    return max(1, int(getattr(settings, "SAFEWARD_BACKUP_MAX_AGE_HOURS", 26)))


def restore_test_max_age_days() -> int:
    return max(1, int(getattr(settings, "SAFEWARD_RESTORE_TEST_MAX_AGE_DAYS", 90)))

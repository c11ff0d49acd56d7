"""The audit trail's settings. Each can be set in Django settings (tests do)
or in the environment through the typed reader; defaults suit one hospital."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from safeward.config import env


def _setting_path(name: str, default: Path) -> Path:
    value = getattr(settings, name, None)
    if value is not None:
        return Path(value)
    return env.path(name, default)


def _setting_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = getattr(settings, name, None)
    if value is not None:
        return int(value)
    return env.integer(name, default, minimum=minimum)


def audit_dir() -> Path:
    return _setting_path("SAFEWARD_AUDIT_DIR", Path(settings.VAR_DIR) / "audit")


def checkpoint_file() -> Path:
    """The append-only file every signed seal is also written to (outside the
    database). Put it on other storage than the database, ideally `chattr +a`."""
    return _setting_path("SAFEWARD_AUDIT_CHECKPOINT_FILE", audit_dir() / "checkpoints.jsonl")


def seal_key_file() -> Path:
    """The Ed25519 seal key used until safeward.crypto.signing holds it."""
    return _setting_path("SAFEWARD_AUDIT_SEAL_KEY_FILE", Path(settings.SAFEWARD_KEY_DIR) / "audit-seal.pem")


def archive_dir() -> Path:
    return _setting_path("SAFEWARD_AUDIT_ARCHIVE_DIR", audit_dir() / "archive")


def retention_days() -> int:
    """HIPAA keeps documentation six years (45 CFR 164.316(b)(2)); default 6 x 365 + 2 leap days."""
    return _setting_int("SAFEWARD_AUDIT_RETENTION_DAYS", 6 * 365 + 2, minimum=365)


def seal_batch() -> int:
    """Most events one seal covers; a backlog is sealed in several blocks."""
    return _setting_int("SAFEWARD_AUDIT_SEAL_BATCH", 10_000, minimum=1)


def gap_horizon_seconds() -> int:
    """How long a missing sequence number may still turn up (a transaction
    that took the id and has not committed yet) before a seal records it as
    rolled back. Must exceed the longest transaction that writes an event."""
    return _setting_int("SAFEWARD_AUDIT_GAP_HORIZON_SECONDS", 600, minimum=1)


def export_batch() -> int:
    return _setting_int("SAFEWARD_AUDIT_EXPORT_BATCH", 500, minimum=1)

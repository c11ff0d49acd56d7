"""Throwaway settings for the django-auditlog comparison in audit_append.py:
SafeWard's settings plus auditlog (never used by SafeWard itself)."""

import importlib
import os

_base = importlib.import_module(os.environ.get("BENCH_BASE_SETTINGS", "safeward.settings"))
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})
INSTALLED_APPS = [*_base.INSTALLED_APPS, "auditlog"]

"""Bench-only settings for bench/clinical_chart.py: the product's settings
with one extra URL, the direct (unencrypted, unaudited) chart view. Never
used by the product; the product's URLconf does not contain that view."""

from safeward.settings import *  # noqa: F403 - the product's settings, unchanged

ROOT_URLCONF = "clinical_bench_urls"
# The unmanaged twins of the clinical models over bench_plain_* (the ORM baseline).
INSTALLED_APPS = [*INSTALLED_APPS, "bench_plain"]  # noqa: F405 - from the product's settings

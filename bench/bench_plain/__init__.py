"""Bench-only app: unmanaged models over the bench_plain_* tables that
bench/clinical_chart.py writes (unencrypted copies of the clinical rows), so
that the direct chart path can use the same query layer (the Django ORM) as
the gateway. Installed only by bench/clinical_bench_settings.py."""

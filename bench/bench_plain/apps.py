from django.apps import AppConfig


class BenchPlainConfig(AppConfig):
    name = "bench_plain"
    label = "bench_plain"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class PatchingConfig(AppConfig):
    name = "safeward.patching"
    label = "patching"
    verbose_name = "Software inventory, vulnerabilities and patching"

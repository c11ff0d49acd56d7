from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "safeward.assets"
    label = "assets"
    verbose_name = "Asset management"

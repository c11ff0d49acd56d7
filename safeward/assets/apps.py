from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "safeward.assets"
    label = "assets"
    verbose_name = "Asset management"

    def ready(self) -> None:
        from safeward.assets.panels import LAPSED_PANEL
        from safeward.web.panels import register_dashboard_panel

        register_dashboard_panel(LAPSED_PANEL)

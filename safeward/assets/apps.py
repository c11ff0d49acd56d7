from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "safeward.assets"
    label = "assets"
    verbose_name = "Asset management"

    def ready(self) -> None:
        from safeward.assets.manifests import manifest_record
        from safeward.assets.panels import LAPSED_PANEL
        from safeward.audit.manifests import register_manifest_writer
        from safeward.web.panels import register_dashboard_panel

        register_dashboard_panel(LAPSED_PANEL)
        # Every export's manifest is written by this app (safeward.audit.manifests).
        register_manifest_writer(manifest_record)

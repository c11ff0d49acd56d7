from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "safeward.web"
    label = "web"
    verbose_name = "Web interface"

    def ready(self) -> None:
        # Registers the OpenAPI bearer scheme with drf-spectacular (extensions register on import).
        from safeward.web import api_errors  # noqa: F401

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "safeward.web"
    label = "web"
    verbose_name = "Web interface"

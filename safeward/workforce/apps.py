from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "safeward.workforce"
    label = "workforce"
    verbose_name = "Workforce lifecycle"

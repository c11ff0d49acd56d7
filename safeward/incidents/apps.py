from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "safeward.incidents"
    label = "incidents"
    verbose_name = "Incident response"

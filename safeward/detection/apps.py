from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "safeward.detection"
    label = "detection"
    verbose_name = "Detection and alerts"

from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "safeward.devices"
    label = "devices"
    verbose_name = "Devices and networks"

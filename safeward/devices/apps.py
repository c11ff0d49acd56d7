from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "safeward.devices"
    label = "devices"
    verbose_name = "Devices and networks"

    def ready(self) -> None:
        from safeward.devices.identity import posture_for_request
        from safeward.identity.access import device_posture_provider_register

        device_posture_provider_register(posture_for_request)

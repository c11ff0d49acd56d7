from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "safeward.devices"
    label = "devices"
    verbose_name = "Devices and networks"

    def ready(self) -> None:
        from safeward.devices.identity import posture_for_request
        from safeward.identity.access import device_posture_provider_register

        device_posture_provider_register(posture_for_request)
        # The "checked in within 24 h" live test of compensating controls reads the
        # last check-in the MDM exports reported (posture imports, ADR 1010).
        from safeward.devices.checkin import register_checkin_provider
        from safeward.devices.posture_selectors import posture_last_checkins

        register_checkin_provider(posture_last_checkins)

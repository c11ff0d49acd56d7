from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "safeward.devices"
    label = "devices"
    verbose_name = "Devices and networks"

    def ready(self) -> None:
        from safeward.devices.identity import posture_for_request
        from safeward.identity.access import device_posture_provider_register

        device_posture_provider_register(posture_for_request)
        # Bearer tokens carry the device they were issued to (ADR 1016).
        from oauth2_provider.signals import app_authorized

        from safeward.devices.identity import posture_for_token
        from safeward.identity.access import token_posture_provider_register

        token_posture_provider_register(posture_for_token)
        app_authorized.connect(_bind_token, dispatch_uid="devices.token_device_bind")
        # Kiosk clients on a device, the consenting browser's device, refreshes (ADRs 1018, 1019).
        from safeward.devices.oauth_links import (
            client_credentials_refusal,
            client_panel_context,
            consent_record,
            refresh_refusal,
        )
        from safeward.fhir import extensions

        extensions.register_consent_listener(consent_record)
        extensions.register_refresh_gate(refresh_refusal)
        # Backend services' tokens: refused from a lost or another device (ADR 1020).
        extensions.register_client_credentials_gate(client_credentials_refusal)
        extensions.register_client_panel(
            extensions.ClientPanel("devices/posture/_client_panel.html", client_panel_context)
        )
        # The "checked in within 24 h" live test of compensating controls reads the
        # last check-in the MDM exports reported (posture imports, ADR 1010).
        from safeward.devices.checkin import register_checkin_provider
        from safeward.devices.posture_selectors import posture_last_checkins

        register_checkin_provider(posture_last_checkins)


def _bind_token(sender: object, request: object, token: object, **kwargs: object) -> None:
    from django.http import HttpRequest
    from oauth2_provider.models import AccessToken

    from safeward.devices.identity import token_device_bind

    if isinstance(request, HttpRequest) and isinstance(token, AccessToken):
        token_device_bind(request=request, token=token)

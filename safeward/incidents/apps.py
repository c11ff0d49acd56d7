from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "safeward.incidents"
    label = "incidents"
    verbose_name = "Incident response"

    def ready(self) -> None:
        # Alert notifications are queued into this app's outbox
        # (NotificationDelivery) when the detection worker raises an alert.
        from safeward.detection.notifications import on_alert_raised
        from safeward.detection.signals import alert_raised
        from safeward.incidents import checks

        alert_raised.connect(on_alert_raised, dispatch_uid="safeward.notifications.on_alert_raised")
        checks.register()

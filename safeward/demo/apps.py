from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo hospital: seed data, a self-signed certificate and a supervisor
    that serves SafeWard over HTTPS on loopback. Refuses to run outside demo mode."""

    name = "safeward.demo"
    label = "demo"
    verbose_name = "Demo hospital"

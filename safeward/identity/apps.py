from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "safeward.identity"
    label = "identity"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from safeward.identity import checks, receivers

        receivers.connect()
        checks.register()

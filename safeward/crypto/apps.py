from django.apps import AppConfig


class CryptoConfig(AppConfig):
    name = "safeward.crypto"
    label = "crypto"
    verbose_name = "Encryption and keys"

    def ready(self) -> None:
        from safeward.crypto import checks

        # `migrate` creating the first keys is wired by audit, which records
        # it as setup (audit sits above crypto, ADR 0566): audit/apps.py.
        checks.register()

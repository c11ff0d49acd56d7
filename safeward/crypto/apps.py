from django.apps import AppConfig


class CryptoConfig(AppConfig):
    name = "safeward.crypto"
    label = "crypto"
    verbose_name = "Encryption and keys"

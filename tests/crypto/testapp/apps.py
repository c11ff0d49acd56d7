from django.apps import AppConfig


class CryptoTestAppConfig(AppConfig):
    name = "tests.crypto.testapp"
    label = "crypto_testapp"
    verbose_name = "Models made for the crypto tests"

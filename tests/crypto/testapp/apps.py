import datetime as dt
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CryptoTestAppConfig(AppConfig):
    name = "tests.crypto.testapp"
    label = "crypto_testapp"
    verbose_name = "Models made for the crypto tests"

    def ready(self) -> None:
        from safeward.crypto.phi import PhiCategory
        from safeward.crypto.registry import register_store
        from safeward.crypto.stores import FileStreamStore, TransientSecrets

        # The kinds of files and secrets the crypto tests encrypt, registered like an app's.
        register_store(
            FileStreamStore(
                label="crypto tests: files",
                directory=lambda: Path(settings.VAR_DIR) / "crypto-tests",
                pattern="*.sw",
                associated_data=lambda path: b"crypto-test.document|" + path.stem.encode(),
                stream_prefixes=(b"crypto-test.",),
                writers=("tests.crypto",),
                phi_categories=(PhiCategory.CLINICAL,),
            )
        )
        register_store(
            TransientSecrets(
                label="crypto tests: secrets",
                secret_purposes=("webhook",),
                writers=("tests.crypto",),
                lifetime=dt.timedelta(0),
            )
        )

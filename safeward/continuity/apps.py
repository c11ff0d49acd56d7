from django.apps import AppConfig


class ContinuityConfig(AppConfig):
    name = "safeward.continuity"
    label = "continuity"
    verbose_name = "Business continuity"

    def ready(self) -> None:
        # Backups are encrypted streams under the data key: registered so key
        # rotation re-encrypts them (and re-signs their manifests) and a key
        # is never retired while a backup still needs it.
        from safeward.continuity.bundle import backup_files_store
        from safeward.crypto.registry import register_store

        register_store(backup_files_store())

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "safeward.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from safeward.audit.archive import archive_files_store
        from safeward.crypto.registry import register_store

        # Archives are stream-encrypted under the data keys: rotation moves them (ADR 0108).
        register_store(archive_files_store())

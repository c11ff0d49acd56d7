from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "safeward.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from safeward.audit.archive import archive_files_store
        from safeward.audit.services import record_key_event
        from safeward.crypto.registry import register_store
        from safeward.crypto.services import register_key_event_recorder

        # Archives are stream-encrypted under the data keys: rotation moves them (ADR 0108).
        register_store(archive_files_store())
        # The keyring sits below the audit trail: its key operations are recorded through here (ADR 0566).
        register_key_event_recorder(record_key_event)

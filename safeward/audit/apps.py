from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "safeward.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from safeward.audit.archive import archive_files_store
        from safeward.audit.services import record_key_event
        from safeward.crypto.registry import register_store
        from safeward.crypto.services import register_key_event_recorder

        # Archives are stream-encrypted under the data keys: rotation moves them (ADR 0108).
        register_store(archive_files_store())
        # The keyring sits below the audit trail: its key operations are recorded through here (ADR 0566).
        register_key_event_recorder(record_key_event)
        post_migrate.connect(
            _create_first_keys,
            sender=apps.get_app_config("crypto"),
            dispatch_uid="safeward.crypto.first_keys",
        )


def _create_first_keys(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """`migrate` creates the first key of each purpose (committed at once, so a
    key is never born inside a request's transaction that could roll back),
    recorded as setup so that installing raises no alert (ADR 0404)."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    from safeward.audit import context
    from safeward.crypto.services import Actor, keys_ensure

    executor = MigrationExecutor(connections[using])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        # A partial `migrate <app>`: the audit trail may not be ready yet; the
        # full migrate (or the start of serving) creates the keys.
        return
    with context.setup():
        keys_ensure(actor=Actor(name="migrate"))

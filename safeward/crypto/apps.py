from django.apps import AppConfig


class CryptoConfig(AppConfig):
    name = "safeward.crypto"
    label = "crypto"
    verbose_name = "Encryption and keys"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from safeward.crypto import checks

        checks.register()
        post_migrate.connect(_create_first_keys, sender=self, dispatch_uid="safeward.crypto.first_keys")


def _create_first_keys(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """`migrate` creates the first key of each purpose (committed at once, so a
    key is never born inside a request's transaction that could roll back)."""
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

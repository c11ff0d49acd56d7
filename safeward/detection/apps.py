from typing import Any

from django.apps import AppConfig


def _ensure_rules(sender: AppConfig, **kwargs: Any) -> None:
    """Every rule gets its row with the default configuration on migrate and
    after a flush (tests, `safeward flush`); existing rows are kept."""
    from django.db import connections

    from safeward.detection.models import DetectionRule
    from safeward.detection.services import rules_ensure_defaults

    using = kwargs.get("using", "default")
    if DetectionRule._meta.db_table in connections[using].introspection.table_names():
        rules_ensure_defaults()


def _register_stores() -> None:
    """What detection keeps keyed, so key rotation counts it (the alert
    webhook's secret is incidents', with the notifications)."""
    from safeward.crypto.registry import register_store
    from safeward.crypto.stores import StoredBlindValues

    # Staff match keys are keyed hashes without their plaintext: counted, so a
    # blind-index key does not retire while they still need it.
    register_store(
        StoredBlindValues(
            model_label="detection.StaffMatchKey",
            columns=("national_id_index", "address_index"),
            writers=("safeward.detection.services",),
            how_to_renew="enter the staff member's national id and address again",
        )
    )


class DetectionConfig(AppConfig):
    name = "safeward.detection"
    label = "detection"
    verbose_name = "Detection and alerts"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_ensure_rules, sender=self, dispatch_uid="safeward.detection.rules")
        from safeward.detection import checks

        checks.register()
        _register_stores()
        # The officers' home pages list their work (issue 12).
        from safeward.detection.worklists import register

        register()

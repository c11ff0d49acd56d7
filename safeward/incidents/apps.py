from django.apps import AppConfig


def _register_stores() -> None:
    """The alert webhook's shared secret may be a sealed token in the
    environment: registered so key rotation counts it."""
    from safeward.crypto.registry import register_store
    from safeward.crypto.stores import EnvironmentSecretStore
    from safeward.incidents.case_services import evidence_files_store
    from safeward.incidents.letters import letter_files_store
    from safeward.incidents.notifications import WEBHOOK_SECRET_PURPOSE, webhook_secret_setting

    register_store(evidence_files_store())
    register_store(letter_files_store())
    register_store(
        EnvironmentSecretStore(
            setting="SAFEWARD_ALERT_WEBHOOK_SECRET",
            secret_purpose=WEBHOOK_SECRET_PURPOSE,
            read=webhook_secret_setting,
            writers=("safeward.crypto.management.commands.keys",),
        )
    )


class IncidentsConfig(AppConfig):
    name = "safeward.incidents"
    label = "incidents"
    verbose_name = "Incident response"

    def ready(self) -> None:
        # Alert notifications are queued into this app's outbox
        # (NotificationDelivery) when the detection worker raises alerts (once per batch);
        # the alert page shows this app's panels (incident actions, deliveries).
        from safeward.detection.panels import register_alert_panel
        from safeward.detection.signals import alerts_raised
        from safeward.incidents import checks
        from safeward.incidents.notifications import on_alerts_raised
        from safeward.incidents.panels import ALERT_PANELS

        alerts_raised.connect(on_alerts_raised, dispatch_uid="safeward.notifications.on_alerts_raised")
        checks.register()
        for panel in ALERT_PANELS:
            register_alert_panel(panel)
        from safeward.incidents.panels import DEADLINES_PANEL
        from safeward.web.panels import register_dashboard_panel

        register_dashboard_panel(DEADLINES_PANEL)
        _register_stores()
        from safeward.incidents.containment import register_builtin

        register_builtin()
        # Each `safeward drill run` joins the quarter's detection-drill exercise (ADR 1414).
        from safeward.detection.drills.runner import register_exercise_check, register_run_sink
        from safeward.incidents.case_services import attack_drill_attach, attack_drill_exercise_check

        register_run_sink(attack_drill_attach)
        register_exercise_check(attack_drill_exercise_check)
        # The custody trigger is lifted with the audit guard by the test flush and snapshot (ADR 0941).
        from safeward.audit import dbguard as audit_dbguard
        from safeward.incidents import dbguard

        audit_dbguard.register_guard(dbguard.install_statements, dbguard.remove_statements)

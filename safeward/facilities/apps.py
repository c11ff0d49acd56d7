from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "safeward.facilities"
    label = "facilities"
    verbose_name = "Physical security: secure areas, badges, visitors, custody and sanitization"

    def ready(self) -> None:
        # Authorisations follow the workforce record (ADR 1100): workforce calls
        # this hook inside the transaction that ends a person's system access,
        # and lists their active badges for recovery. Workforce never imports us.
        from safeward.facilities import services
        from safeward.workforce.extensions import register_person_change_hook, register_recovery_source

        register_person_change_hook("facilities", services.person_changed)
        register_recovery_source("facilities", services.badges_to_recover)

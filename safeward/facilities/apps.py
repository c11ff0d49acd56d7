from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "safeward.facilities"
    label = "facilities"
    verbose_name = "Physical security: secure areas, badges, visitors, custody and sanitization"

    def ready(self) -> None:
        # Authorisations follow the workforce record (ADR 1100): workforce calls
        # this hook inside the transaction that ends a person's system access,
        # and lists their active badges for recovery. Workforce never imports us.
        from safeward.crypto.registry import register_store
        from safeward.crypto.stores import TransientSecrets
        from safeward.facilities import patient_refs, services
        from safeward.workforce.extensions import register_person_change_hook, register_recovery_source

        register_person_change_hook("facilities", services.person_changed)
        register_recovery_source("facilities", services.badges_to_recover)
        # The desk's patient references are sealed, never stored (ADR 1115): a
        # data key retires only after they expired.
        register_store(
            TransientSecrets(
                label="visitor desk patient references",
                secret_purposes=(patient_refs.PURPOSE,),
                writers=(patient_refs.__name__,),
                lifetime=patient_refs.REF_LIFETIME,
            )
        )

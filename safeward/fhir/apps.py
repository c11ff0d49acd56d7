from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "safeward.fhir"
    label = "fhir"
    verbose_name = "HL7 FHIR R4 API with SMART on FHIR scopes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from safeward.clinical.scopes import register_launch_patient_lookup
        from safeward.crypto.registry import register_store
        from safeward.crypto.stores import TransientSecrets
        from safeward.fhir import checks, cursor
        from safeward.fhir.smart import launch_patient

        checks.register()
        # The scope decision (clinical.scopes) learns a token's launch patient from here.
        register_launch_patient_lookup(launch_patient)
        # Paging cursors are sealed, never stored: a data key retires only after they expired.
        register_store(
            TransientSecrets(
                label="fhir paging cursors",
                secret_purposes=(cursor.PURPOSE,),
                writers=(cursor.__name__,),
                lifetime=cursor.CURSOR_LIFETIME,
            )
        )

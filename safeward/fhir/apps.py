from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "safeward.fhir"
    label = "fhir"
    verbose_name = "HL7 FHIR R4 API with SMART on FHIR scopes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from safeward.fhir import checks

        checks.register()

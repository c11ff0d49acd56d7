from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "safeward.assessments"
    label = "assessments"
    verbose_name = "Security assessments and compliance"

    def ready(self) -> None:
        from safeward.assessments import checks

        checks.register()

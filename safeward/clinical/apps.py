from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "safeward.clinical"
    label = "clinical"
    verbose_name = "Clinical records"

    def ready(self) -> None:
        # Termination cuts any active break-glass grant (workforce extension point).
        from safeward.clinical.gateway import break_glass_end_for_user
        from safeward.workforce.extensions import register_termination_cutoff

        register_termination_cutoff("breakglass", break_glass_end_for_user)

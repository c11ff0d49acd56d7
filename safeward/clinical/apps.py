from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "safeward.clinical"
    label = "clinical"
    verbose_name = "Clinical records"

    def ready(self) -> None:
        # Termination cuts any active break-glass grant (workforce extension point).
        from safeward.clinical.gateway import break_glass_end_for_user
        from safeward.clinical.gateway._writes import document_files_store
        from safeward.crypto.registry import register_store
        from safeward.workforce.extensions import register_termination_cutoff

        register_termination_cutoff("breakglass", break_glass_end_for_user)
        # Encrypted document files rotate with the data keys (ADR 0108).
        register_store(document_files_store())
        # Each clinical role's home page lists its work (issue 12).
        from safeward.clinical.worklists import register

        register()

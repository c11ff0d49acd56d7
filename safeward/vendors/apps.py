from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "safeward.vendors"
    label = "vendors"
    verbose_name = "Vendors and their agreements"

    def ready(self) -> None:
        # The vendor credential check on every request that presents an
        # account or an OAuth client (ADR 1200): identity calls it, never imports it.
        from safeward.identity.selectors import credential_check_register
        from safeward.vendors.access import credential_refusal

        credential_check_register(credential_refusal)

        # Suspending a vendor is a containment action on an incident case (ADR 1211).
        from safeward.vendors import containment

        containment.register()

        # The bulk-access rule for vendor credentials in detection's worker (ADR 1211).
        from safeward.vendors import rules

        rules.register()

        # Agreement documents are encrypted files: key rotation must find them (ADR 1211).
        from safeward.crypto.registry import register_store
        from safeward.vendors.documents import document_files_store

        register_store(document_files_store())

        # Questionnaire evidence is encrypted the same way, in its own directory (ADR 1213).
        from safeward.vendors.questionnaires import evidence_files_store

        register_store(evidence_files_store())

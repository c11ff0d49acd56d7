from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "safeward.assessments"
    label = "assessments"
    verbose_name = "Security assessments and compliance"

    def ready(self) -> None:
        from safeward.assessments import campaign_selectors, checks, dbguard, maturity, worklists
        from safeward.audit import dbguard as audit_dbguard

        checks.register()
        # The test flush and demo snapshot lift the signed-run guard with the audit one.
        audit_dbguard.register_guard(dbguard.install_statements, dbguard.remove_statements)
        worklists.register()
        # Entries no control test decides are scored from the latest signed-off campaign.
        maturity.register_maturity_source(campaign_selectors.maturity_every_framework)

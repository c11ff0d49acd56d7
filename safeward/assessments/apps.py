from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "safeward.assessments"
    label = "assessments"
    verbose_name = "Security assessments and compliance"

    def ready(self) -> None:
        from safeward.assessments import campaign_selectors, checks, maturity, worklists

        checks.register()
        worklists.register()
        # Entries no control test decides are scored from the latest signed-off campaign.
        maturity.register_maturity_source(campaign_selectors.maturity_every_framework)

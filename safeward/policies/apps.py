from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "safeward.policies"
    label = "policies"
    verbose_name = "Policies, reviews and acknowledgements"

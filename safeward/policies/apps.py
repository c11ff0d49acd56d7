from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "safeward.policies"
    label = "policies"
    verbose_name = "Policies, reviews and acknowledgements"

    def ready(self) -> None:
        # The acknowledgement gate narrows permissions on every request
        # (gate.py), as the workforce app's training filter does.
        from safeward.identity.selectors import permission_filter_register
        from safeward.policies import gate, worklists

        permission_filter_register(gate.filter_permissions)
        # The compliance officer's home page: reviews due, campaigns lagging.
        worklists.register()

from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "safeward.workforce"
    label = "workforce"
    verbose_name = "Workforce lifecycle"

    def ready(self) -> None:
        # The hooks that put the workforce record on the request path (see
        # policy.py): the permission filter, the API account check and the
        # failed-login receiver.
        from safeward.identity.selectors import account_check_register, permission_filter_register
        from safeward.workforce import policy, receivers

        permission_filter_register(policy.filter_permissions)
        account_check_register(policy.account_usable)
        receivers.connect()
        # The HR officer's home page lists their work (issue 12).
        from safeward.workforce.worklists import register

        register()

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "safeward.audit"
    label = "audit"
    verbose_name = "Audit trail"

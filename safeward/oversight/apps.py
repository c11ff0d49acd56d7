from django.apps import AppConfig


class OversightConfig(AppConfig):
    """The security and privacy officers' pages over the audit trail and the
    keyring: the audit report, the accounting of disclosures and the key page.
    They sit above identity (its view guards), which sits above the audit
    writer and the keyring (ADR 0566)."""

    name = "safeward.oversight"
    label = "oversight"
    verbose_name = "Audit report, disclosures and keys pages"

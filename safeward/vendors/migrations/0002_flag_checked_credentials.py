"""Flag the accounts and clients already bound to a vendor agreement, so the
request path keeps asking the vendor check for them (ADR 1210)."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def flag(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    credential = apps.get_model("vendors", "Credential")
    user = apps.get_model("identity", "User")
    registration = apps.get_model("fhir", "ClientRegistration")
    user_ids = credential.objects.exclude(user_id=None).values_list("user_id", flat=True)
    user.objects.filter(pk__in=list(user_ids)).update(credential_checked=True)
    registration_ids = credential.objects.exclude(client_registration_id=None).values_list(
        "client_registration_id", flat=True
    )
    registration.objects.filter(pk__in=list(registration_ids)).update(credential_checked=True)


class Migration(migrations.Migration):
    dependencies = [
        ("vendors", "0001_initial"),
        ("identity", "0013_user_credential_checked"),
        ("fhir", "0003_client_credential_checked"),
    ]

    operations = [migrations.RunPython(flag, migrations.RunPython.noop)]

# Written by hand: Django's autodetector cannot deconstruct a foreign key to
# django-oauth-toolkit's swappable models unless OAUTH2_PROVIDER_*_MODEL
# settings exist; SafeWard uses the default models.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("oauth2_provider", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClientKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("public_key_pem", models.TextField()),
                ("algorithm", models.CharField(default="RS384", max_length=8)),
                ("created_at", models.DateTimeField()),
                (
                    "application",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="smart_key",
                        to="oauth2_provider.application",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="LaunchCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code_hash", models.CharField(max_length=64, unique=True)),
                ("patient_id", models.UUIDField()),
                ("created_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField()),
                ("grant_code_hash", models.CharField(blank=True, db_index=True, default="", max_length=64)),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="TokenContext",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("patient_id", models.UUIDField(blank=True, null=True)),
                ("created_at", models.DateTimeField()),
                (
                    "access_token",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="smart_context",
                        to="oauth2_provider.accesstoken",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="UsedAssertion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("application_id", models.BigIntegerField()),
                ("jti", models.CharField(max_length=200)),
                ("expires_at", models.DateTimeField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("application_id", "jti"), name="fhir_assertion_once")
                ],
            },
        ),
    ]

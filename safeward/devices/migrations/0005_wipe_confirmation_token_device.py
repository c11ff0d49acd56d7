# Written by hand: makemigrations cannot resolve DOT's swappable token model here.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0004_observed_flows"),
        ("oauth2_provider", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="wiperequest",
            name="confirmed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="wiperequest",
            name="confirmed_by_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="wiperequest",
            name="confirmation_source",
            field=models.CharField(
                blank=True,
                choices=[
                    ("fleet", "Fleet / osquery"),
                    ("intune", "Microsoft Intune"),
                    ("jamf", "Jamf Pro"),
                    ("manual", "Confirmed by a person"),
                ],
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="wiperequest",
            name="confirmation_note",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.CreateModel(
            name="TokenDevice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("fingerprint", models.CharField(max_length=64)),
                ("bound_at", models.DateTimeField()),
                (
                    "access_token",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="device_binding",
                        to="oauth2_provider.accesstoken",
                    ),
                ),
                (
                    "device",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="token_bindings",
                        to="devices.device",
                    ),
                ),
            ],
        ),
    ]

"""A blind index of each patient's family name and birth date (ADR 0813),
for the PHI discovery scanner's exact match of a name beside a birth date.
Existing patients get theirs computed from their decrypted sources: needs
the keyring, as any write of PHI does. Going back drops the column."""

from django.db import migrations

import safeward.crypto.fields

BATCH = 2000


def backfill(apps, schema_editor):
    patient = apps.get_model("clinical", "Patient")
    field = patient._meta.get_field("name_dob_index")
    for row in patient.objects.order_by("pk").iterator(chunk_size=BATCH):
        row.name_dob_index = field.recompute(row)
        row.save(update_fields=["name_dob_index"])


class Migration(migrations.Migration):
    dependencies = [
        ("clinical", "0006_ward_admission"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="name_dob_index",
            field=safeward.crypto.fields.BlindIndexField(
                db_index=True, normaliser="name_dob", null=True, of=["family_name", "birth_date"]
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]

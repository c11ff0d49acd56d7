"""Encrypt the clinical service dates and times (issue 11, ADR 0557).

Encounter start and end, observation, note, condition, allergy, medication
and document times become `EncryptedDateTimeField`s. For each, the plain
column is renamed `<name>_plain`, the encrypted column is added, every row
is encrypted under its own row binding (and its year bucket or day index
computed), and the plain column is dropped. Reversible: going back decrypts
into the plain columns again. Needs the keyring, as any write of PHI does.
"""

from django.db import migrations, models

import safeward.crypto.fields

# (model, field, nullable)
TIMES = (
    ("encounter", "started_at", False),
    ("encounter", "ended_at", True),
    ("clinicalnote", "created_at", False),
    ("condition", "recorded_at", False),
    ("allergyintolerance", "recorded_at", False),
    ("medicationrequest", "authored_at", False),
    ("observation", "effective_at", False),
    ("document", "created_at", False),
)
# Derived plain columns, recomputed from the encrypted value.
DERIVED = {
    "encounter": ("started_year", "ended_day_index"),
    "observation": ("effective_year",),
}
BATCH = 2000


def _models(apps):
    fields: dict[str, list[str]] = {}
    for model, name, _nullable in TIMES:
        fields.setdefault(model, []).append(name)
    return [(apps.get_model("clinical", model), names) for model, names in fields.items()]


def encrypt(apps, schema_editor):
    for model, names in _models(apps):
        update = [*names, *DERIVED.get(model._meta.model_name, ())]
        for row in model.objects.order_by("pk").iterator(chunk_size=BATCH):
            for name in names:
                setattr(row, name, getattr(row, f"{name}_plain"))
            row.save(update_fields=update)


def decrypt(apps, schema_editor):
    from safeward.crypto.fields import decrypt_field

    for model, names in _models(apps):
        for row in model.objects.order_by("pk").iterator(chunk_size=BATCH):
            for name in names:
                setattr(row, f"{name}_plain", decrypt_field(row, name))
            row.save(update_fields=[f"{name}_plain" for name in names])


def _rename_and_add():
    operations = []
    for model, name, nullable in TIMES:
        operations.append(migrations.RenameField(model_name=model, old_name=name, new_name=f"{name}_plain"))
        if not nullable:
            # Nullable while both columns exist, so that going back can re-add it before filling it.
            operations.append(
                migrations.AlterField(
                    model_name=model, name=f"{name}_plain", field=models.DateTimeField(null=True, blank=True)
                )
            )
        operations += [
            migrations.AddField(
                model_name=model, name=name, field=safeward.crypto.fields.EncryptedDateTimeField(null=True)
            ),
        ]
    return operations


def _drop_plain_and_require():
    operations = []
    for model, name, nullable in TIMES:
        operations.append(migrations.RemoveField(model_name=model, name=f"{name}_plain"))
        if not nullable:
            operations.append(
                migrations.AlterField(
                    model_name=model, name=name, field=safeward.crypto.fields.EncryptedDateTimeField()
                )
            )
    return operations


class Migration(migrations.Migration):
    dependencies = [("clinical", "0002_patient_prefix_trigram_indexes")]

    operations = [
        migrations.RemoveIndex(model_name="encounter", name="clin_enc_patient_time"),
        migrations.RemoveIndex(model_name="clinicalnote", name="clin_note_patient_time"),
        migrations.RemoveIndex(model_name="observation", name="clin_obs_patient_time"),
        migrations.RemoveIndex(model_name="document", name="clin_doc_patient_time"),
        *_rename_and_add(),
        migrations.AddField(
            model_name="encounter",
            name="started_year",
            field=safeward.crypto.fields.PlainYearField(of="started_at"),
        ),
        migrations.AddField(
            model_name="encounter",
            name="ended_day_index",
            field=safeward.crypto.fields.BlindIndexField(
                db_index=True, null=True, of="ended_at", normaliser="local_day"
            ),
        ),
        migrations.AddField(
            model_name="observation",
            name="effective_year",
            field=safeward.crypto.fields.PlainYearField(of="effective_at"),
        ),
        migrations.RunPython(encrypt, decrypt),
        *_drop_plain_and_require(),
        migrations.AddIndex(
            model_name="encounter",
            index=models.Index(fields=["patient", "started_year"], name="clin_enc_patient_year"),
        ),
        migrations.AddIndex(
            model_name="observation",
            index=models.Index(fields=["patient", "effective_year"], name="clin_obs_patient_year"),
        ),
    ]

"""Models made for the crypto tests (synthetic PHI only): one with a UUID
primary key, one with an integer key and a dedicated `uuid` field."""

import uuid

from django.db import models

from safeward.crypto.fields import (
    BlindIndexField,
    BlindPrefixField,
    EncryptedBytesField,
    EncryptedDateField,
    EncryptedDateTimeField,
    EncryptedJSONField,
    EncryptedTextField,
    PlainYearField,
)
from safeward.crypto.phi import PhiCategory


class Record(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    mrn = EncryptedTextField(max_length=40, phi_category=PhiCategory.IDENTIFIER)
    family_name = EncryptedTextField(max_length=200, phi_category=PhiCategory.DEMOGRAPHIC)
    given_name = EncryptedTextField(max_length=200, null=True, phi_category=PhiCategory.DEMOGRAPHIC)
    birth_date = EncryptedDateField(null=True, phi_category=PhiCategory.DEMOGRAPHIC)
    national_id = EncryptedTextField(max_length=40, null=True, phi_category=PhiCategory.IDENTIFIER)
    phone = EncryptedTextField(max_length=40, null=True, phi_category=PhiCategory.CONTACT)
    email = EncryptedTextField(max_length=254, null=True, phi_category=PhiCategory.CONTACT)
    notes = EncryptedJSONField(null=True, max_length=4096, phi_category=PhiCategory.CLINICAL)
    scan = EncryptedBytesField(null=True, max_length=100_000, phi_category=PhiCategory.CLINICAL)

    mrn_index = BlindIndexField(of="mrn", normaliser="mrn")
    national_id_index = BlindIndexField(of="national_id", normaliser="national_id")
    phone_index = BlindIndexField(of="phone", normaliser="phone")
    email_index = BlindIndexField(of="email", normaliser="email")
    birth_date_index = BlindIndexField(of="birth_date", normaliser="date")
    name_dob_index = BlindIndexField(of=("family_name", "birth_date"), normaliser="name_dob")
    family_name_prefixes = BlindPrefixField(of="family_name")

    def __str__(self) -> str:
        return f"record {self.pk}"


class Note(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    body = EncryptedTextField(row_id_field="uuid", phi_category=PhiCategory.CLINICAL)
    written_on = EncryptedDateField(row_id_field="uuid", null=True, phi_category=PhiCategory.CLINICAL)
    seen_at = EncryptedDateTimeField(row_id_field="uuid", null=True, phi_category=PhiCategory.CLINICAL)
    seen_year = PlainYearField(of="seen_at")
    seen_day_index = BlindIndexField(of="seen_at", normaliser="local_day")

    def __str__(self) -> str:
        return f"note {self.pk}"

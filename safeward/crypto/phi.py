"""The kinds of patient data an encrypted field (or an encrypted file store)
holds. Every `EncryptedField` declares one (`phi_category=...`) and
`safeward check` refuses one that does not (crypto.E104): the asset register
computes the classification and PHI categories of SafeWard's own stores from
these declarations, so a new column of patient data cannot go uncounted.

The categories follow the groups of the HIPAA identifiers (45 CFR
164.514(b)(2)) and the designated record set: who the patient is, how to
reach them, how they pay, when they were seen, what was found and done, and
the record of who looked at them."""

from __future__ import annotations

from enum import StrEnum


class PhiCategory(StrEnum):
    IDENTIFIER = "identifier"  # medical record and national numbers
    DEMOGRAPHIC = "demographic"  # names, birth and death dates, gender
    CONTACT = "contact"  # address, phone, e-mail
    FINANCIAL = "financial"  # insurance and payment
    ENCOUNTER = "encounter"  # visit and appointment times and reasons
    CLINICAL = "clinical"  # notes, problems, results, medications, allergies, documents
    ACCESS_RECORD = "access_record"  # who looked at which patient and why
    NOT_PHI = "not_phi"  # an encrypted secret that is no patient data

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    PhiCategory.IDENTIFIER: "Identifiers",
    PhiCategory.DEMOGRAPHIC: "Demographics",
    PhiCategory.CONTACT: "Contact details",
    PhiCategory.FINANCIAL: "Financial",
    PhiCategory.ENCOUNTER: "Encounters",
    PhiCategory.CLINICAL: "Clinical",
    PhiCategory.ACCESS_RECORD: "Access records",
    PhiCategory.NOT_PHI: "No patient data",
}

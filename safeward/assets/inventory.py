"""What SafeWard itself holds, computed from the model metadata: every
encrypted field declares its PHI category (safeward.crypto.phi) and every
encrypted file store the categories of its files, so the classification and
PHI categories of SafeWard's own stores (database, documents, keys, audit
archive, backups, exports) follow the code, never a hand-typed value."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from safeward.assets.models import Asset, Classification
from safeward.crypto import conf as crypto_conf
from safeward.crypto.fields import EncryptedField, encrypted_fields
from safeward.crypto.phi import PhiCategory
from safeward.crypto.registry import registered_stores
from safeward.crypto.stores import FileStreamStore

DOCUMENT_STORE = "clinical.document files"
AUDIT_ARCHIVE_STORE = "audit archives"


def categories_of_fields(fields: Iterable[EncryptedField]) -> frozenset[PhiCategory]:
    """The PHI categories the fields hold (an undeclared field is refused by
    `safeward check`, crypto.E104; here it counts as the widest, clinical)."""
    found = {
        f.phi_category if isinstance(f.phi_category, PhiCategory) else PhiCategory.CLINICAL for f in fields
    }
    return frozenset(found - {PhiCategory.NOT_PHI})


def classification_of(categories: Iterable[PhiCategory], *, holds_secrets: bool = False) -> Classification:
    """HICP Table 3: data about patients (PHI) is Highly Sensitive; secrets
    that are no patient data are Sensitive; the rest is Internal."""
    if any(category != PhiCategory.NOT_PHI for category in categories):
        return Classification.HIGHLY_SENSITIVE
    return Classification.SENSITIVE if holds_secrets else Classification.INTERNAL


def _file_store(label: str) -> FileStreamStore | None:
    for store in registered_stores():
        if isinstance(store, FileStreamStore) and store.label == label:
            return store
    return None


def _store_categories(store: FileStreamStore | None) -> frozenset[PhiCategory]:
    if store is None or store.phi_categories is None:
        return frozenset()
    return frozenset(store.phi_categories) - {PhiCategory.NOT_PHI}


@dataclass(frozen=True)
class SelfAsset:
    """One of SafeWard's own stores, with what the metadata says it holds."""

    key: str
    name: str
    kind: str
    description: str
    location: str
    categories: frozenset[PhiCategory]
    classification: Classification
    encrypted_at_rest: str
    encrypted_at_rest_evidence: str
    depends_on: tuple[str, ...] = field(default=())
    criticality: str = Asset.Criticality.CRITICAL

    def values(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "location": self.location,
            "classification": self.classification,
            "phi_categories": sorted(self.categories),
            "encrypted_at_rest": self.encrypted_at_rest,
            "encrypted_at_rest_evidence": self.encrypted_at_rest_evidence,
            "criticality": self.criticality,
        }


def _database_location() -> str:
    database = settings.DATABASES["default"]
    engine = str(database["ENGINE"]).rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return f"sqlite3 file {database.get('NAME', '')}"
    # Host, port and database name only: never the user or password.
    host, port = database.get("HOST") or "localhost", database.get("PORT") or "default"
    return f"{engine} {host}:{port}/{database['NAME']}"


def safeward_assets(fields: Iterable[EncryptedField] | None = None) -> list[SelfAsset]:
    """SafeWard's own stores as the metadata describes them (`fields`
    defaults to every encrypted field of every installed model)."""
    columns = list(encrypted_fields() if fields is None else fields)
    database = categories_of_fields(columns)
    documents_store = _file_store(DOCUMENT_STORE)
    documents = _store_categories(documents_store)
    archive_store = _file_store(AUDIT_ARCHIVE_STORE)
    archive = _store_categories(archive_store)
    everything = database | documents | archive
    models = sorted({f.model._meta.label for f in columns})
    return [
        SelfAsset(
            key="safeward.database",
            name="SafeWard database",
            kind=Asset.Kind.DATABASE,
            description=f"{len(columns)} encrypted columns in {len(models)} models: {', '.join(models)}.",
            location=_database_location(),
            categories=database,
            classification=classification_of(database),
            encrypted_at_rest=Asset.Protection.YES,
            encrypted_at_rest_evidence=(
                f"Every PHI column ({len(columns)}) is AES-256-GCM-SIV ciphertext bound to its table, "
                "column and row (safeward.crypto.fields)."
            ),
            depends_on=("safeward.keys",),
        ),
        SelfAsset(
            key="safeward.documents",
            name="SafeWard document store",
            kind=Asset.Kind.FILE_SHARE,
            description="Uploaded clinical documents, one encrypted file each.",
            location=str(documents_store.directory()) if documents_store else "",
            categories=documents,
            classification=classification_of(documents),
            encrypted_at_rest=Asset.Protection.YES,
            encrypted_at_rest_evidence="Encrypted streams (safeward.crypto.streams), bound to the document.",
            depends_on=("safeward.keys", "safeward.database"),
        ),
        SelfAsset(
            key="safeward.keys",
            name="SafeWard key store",
            kind=Asset.Kind.APPLICATION,
            description="The key-encryption key provider and the wrapped data keys it unlocks.",
            location=f"key provider: {crypto_conf.key_provider_name() or 'not set'}",
            categories=frozenset(),
            # Whoever holds the keys reads everything they protect.
            classification=classification_of(everything, holds_secrets=True),
            encrypted_at_rest=Asset.Protection.YES,
            encrypted_at_rest_evidence="Data keys are stored wrapped by the key-encryption key.",
        ),
        SelfAsset(
            key="safeward.audit_archive",
            name="SafeWard audit archive",
            kind=Asset.Kind.FILE_SHARE,
            description="Sealed, encrypted archives of audit events: who read which patient's record, by id.",
            location=str(archive_store.directory()) if archive_store else "",
            categories=archive,
            classification=classification_of(archive),
            encrypted_at_rest=Asset.Protection.YES,
            encrypted_at_rest_evidence="Encrypted streams (safeward.crypto.streams), signed manifests.",
            depends_on=("safeward.keys",),
            criticality=Asset.Criticality.HIGH,
        ),
        SelfAsset(
            key="safeward.backups",
            name="SafeWard backups",
            kind=Asset.Kind.BACKUP_SET,
            description="Copies of the database, the document store and the audit archive.",
            location="",
            categories=everything,
            classification=classification_of(everything),
            encrypted_at_rest=Asset.Protection.YES,
            encrypted_at_rest_evidence="A backup copies ciphertext: PHI columns and files stay encrypted.",
            depends_on=("safeward.database", "safeward.documents", "safeward.audit_archive"),
        ),
        SelfAsset(
            key="safeward.exports",
            name="SafeWard exports",
            kind=Asset.Kind.OBJECT_STORE,
            description="Everything that left SafeWard as a file or bulk pull; each has a manifest.",
            location="wherever the recipients saved them: see the export manifests",
            categories=database | documents,
            classification=classification_of(database | documents),
            encrypted_at_rest=Asset.Protection.NO,
            encrypted_at_rest_evidence="Exports are plaintext once they leave; manifests say who holds what.",
            depends_on=("safeward.database",),
            criticality=Asset.Criticality.MODERATE,
        ),
    ]

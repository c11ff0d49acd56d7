"""SafeWard's own stores are classified from the model metadata: the PHI
category each encrypted field (and each encrypted file store) declares."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.test.utils import isolate_apps

from safeward.assets import services
from safeward.assets.inventory import categories_of_fields, classification_of, safeward_assets
from safeward.assets.models import Asset, Classification
from safeward.crypto import registry
from safeward.crypto.checks import check_file_stores_declare_phi
from safeward.crypto.fields import EncryptedTextField, encrypted_fields
from safeward.crypto.phi import PhiCategory
from safeward.crypto.stores import FileStreamStore
from tests.crypto.testapp.models import Note, Record


def _by_key(fields):
    return {spec.key: spec for spec in safeward_assets(fields)}


def test_the_database_holds_what_the_clinical_fields_declare():
    database = _by_key(None)["safeward.database"]
    assert database.classification == Classification.HIGHLY_SENSITIVE
    assert {
        PhiCategory.IDENTIFIER,
        PhiCategory.DEMOGRAPHIC,
        PhiCategory.CONTACT,
        PhiCategory.FINANCIAL,
        PhiCategory.ENCOUNTER,
        PhiCategory.CLINICAL,
        PhiCategory.ACCESS_RECORD,
    } <= database.categories
    assert PhiCategory.NOT_PHI not in database.categories


def test_every_installed_encrypted_field_declares_a_category():
    assert all(isinstance(f.phi_category, PhiCategory) for f in encrypted_fields())


def _test_app_fields():
    return [f for model in (Record, Note) for f in model._meta.concrete_fields if hasattr(f, "phi_category")]


@isolate_apps("tests.crypto.testapp")
def test_adding_a_phi_field_in_a_test_app_changes_the_computed_classification():
    before = _by_key(_test_app_fields())
    assert PhiCategory.FINANCIAL not in before["safeward.database"].categories

    insured = _isolated_model("Insured", phi_category=PhiCategory.FINANCIAL)
    after = _by_key([*_test_app_fields(), insured._meta.get_field("value")])
    assert after["safeward.database"].categories == before["safeward.database"].categories | {
        PhiCategory.FINANCIAL
    }
    assert PhiCategory.FINANCIAL in after["safeward.backups"].categories
    assert PhiCategory.FINANCIAL in after["safeward.exports"].categories
    assert str(insured._meta.label) in after["safeward.database"].description


@isolate_apps("tests.crypto.testapp")
def test_a_database_of_secrets_only_is_not_highly_sensitive():
    secrets_only = _isolated_model("SecretOnly", phi_category=PhiCategory.NOT_PHI)
    database = _by_key([secrets_only._meta.get_field("value")])["safeward.database"]
    assert database.categories == frozenset()
    assert database.classification == Classification.INTERNAL


def _isolated_model(name: str, **field_kwargs):
    import uuid

    attrs = {
        "__module__": __name__,
        "id": models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False),
        "value": EncryptedTextField(max_length=40, **field_kwargs),
        "Meta": type("Meta", (), {"app_label": "crypto_testapp"}),
        "__str__": lambda self: name,
    }
    return type(name, (models.Model,), attrs)


@isolate_apps("tests.crypto.testapp")
def test_an_encrypted_field_without_a_category_is_refused_by_the_model_check():
    bare = _isolated_model("Bare")
    assert "crypto.E104" in {error.id for error in bare.check()}
    declared = _isolated_model("Declared", phi_category=PhiCategory.CONTACT)
    assert "crypto.E104" not in {error.id for error in declared.check()}


@pytest.mark.django_db
def test_safeward_check_fails_on_a_phi_field_without_a_category(monkeypatch):
    field = Record._meta.get_field("email")
    monkeypatch.setattr(field, "phi_category", None)
    with pytest.raises(SystemCheckError, match=r"crypto\.E104"):
        call_command("check", tags=[checks.Tags.models])
    monkeypatch.undo()
    call_command("check", tags=[checks.Tags.models])


def test_an_encrypted_file_store_must_declare_what_it_holds(monkeypatch):
    assert check_file_stores_declare_phi(None) == []
    undeclared = FileStreamStore(
        label="test: undeclared files",
        directory=lambda: __import__("pathlib").Path("/nonexistent"),
        pattern="*.x",
        associated_data=lambda path: b"test-undeclared|",
        stream_prefixes=(b"test-undeclared|",),
        writers=("tests.assets",),
    )
    monkeypatch.setitem(registry._registered, undeclared.label, undeclared)
    assert [error.id for error in check_file_stores_declare_phi(None)] == ["crypto.E105"]


def test_classification_levels():
    assert classification_of([PhiCategory.CONTACT]) == Classification.HIGHLY_SENSITIVE
    assert classification_of([PhiCategory.NOT_PHI]) == Classification.INTERNAL
    assert classification_of([], holds_secrets=True) == Classification.SENSITIVE
    assert categories_of_fields([]) == frozenset()


@pytest.mark.django_db
def test_safeward_registers_itself_once_and_keeps_its_classification():
    first = services.assets_register_self(actor=None)
    again = services.assets_register_self(actor=None)
    assert [a.pk for a in first] == [a.pk for a in again]
    keys = set(Asset.objects.filter(source=Asset.Source.SAFEWARD).values_list("system_key", flat=True))
    assert keys == {
        "safeward.database",
        "safeward.documents",
        "safeward.keys",
        "safeward.audit_archive",
        "safeward.backups",
        "safeward.exports",
    }
    database = Asset.objects.get(system_key="safeward.database")
    assert database.classification == Classification.HIGHLY_SENSITIVE
    assert "identifier" in database.phi_categories
    assert set(database.depends_on.values_list("system_key", flat=True)) == {"safeward.keys"}
    documents = Asset.objects.get(system_key="safeward.documents")
    assert documents.phi_categories == ["clinical"]
    archive = Asset.objects.get(system_key="safeward.audit_archive")
    assert archive.phi_categories == ["access_record"]
    with pytest.raises(services.AssetError, match="model metadata"):
        services.asset_update(actor=None, asset_id=database.pk, values={"classification": "public"})
    database.refresh_from_db()
    assert database.classification == Classification.HIGHLY_SENSITIVE

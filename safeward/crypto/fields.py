"""Encrypted model fields and blind indexes.

Usage (a PHI model; only the clinical gateway imports such models)::

    import uuid
    from django.db import models
    from safeward.crypto.fields import (
        BlindIndexField, BlindPrefixField, EncryptedDateField, EncryptedTextField,
    )

    class Patient(models.Model):
        id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
        mrn = EncryptedTextField(max_length=40)
        family_name = EncryptedTextField(max_length=200)
        birth_date = EncryptedDateField(null=True)
        mrn_index = BlindIndexField(of="mrn", normaliser="mrn")
        name_dob_index = BlindIndexField(of=("family_name", "birth_date"), normaliser="name_dob")
        family_name_prefixes = BlindPrefixField(of="family_name")

    patient = Patient(mrn="MRN-0012", family_name="Núñez", birth_date=date(1980, 2, 3))
    patient.save()                                   # encrypts; computes the indexes
    patient.family_name                              # Sealed: str() and repr() show no data
    patient.family_name.reveal()                     # "Núñez" (the gateway's job)
    decrypt_field(patient, "family_name")            # the same, by name
    Patient.objects.filter(blind_filter(Patient, "mrn_index", "mrn 0012"))

**Stable row identifier.** Every ciphertext is bound (AEAD associated data) to
``<app_label>.<model_name>``, the field name and the row's UUID, read from the
field named by ``row_id_field`` (default ``"pk"``). That field must be a
``UUIDField`` with a callable default, so the identifier exists when the
instance is built, before its first save; a system check (``crypto.E101``)
refuses anything else. Moving a ciphertext to another row, column or table
makes it fail to decrypt with ``safeward.crypto.errors.IntegrityError``.
Renaming a model or an encrypted field therefore needs a re-encryption; the
model label and field name are part of every value.

**Reading.** Values read from the database are ``Sealed`` wrappers. Nothing
is decrypted until ``.reveal()`` (or ``decrypt_field``) is called; ``str``,
``repr``, ``format``, templates, forms, admin and error messages only ever
show ``[encrypted]``. An unchanged value is written back as the same
ciphertext; a new value is encrypted under the primary key at save time.

**Writing.** Assign plain Python values (``str`` / ``date`` / JSON-able /
``bytes``). They are validated at assignment and raise ``ValidationError``
naming the model and field (never the value): wrong type, over-long value,
text that is not valid Unicode (lone surrogates), non-JSON values. Assigning
a ``Sealed`` value read from another row or field raises ``ValueError``:
reveal it and assign the plaintext instead. ``QuerySet.update()`` and
filters cannot take plaintext for encrypted fields (there is no row to bind
to); only ``isnull`` lookups are allowed.

**Blind indexes.** ``BlindIndexField`` stores ``HMAC-SHA256(k, normalised)``
truncated to 16 bytes, with ``k`` derived from the keyring's blind-index key
(not a data key: rotating data keys leaves indexes valid) and the index's
*scope* (``<model label>.<field name>`` unless given), so equal values in two
indexes do not match each other. See ``safeward.crypto.normalise`` for the
normalisers and ``docs/crypto.md`` for what an index leaks.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import hashlib
import hmac
import json
import struct
import uuid
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.core import checks
from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.query_utils import DeferredAttribute
from django.utils.functional import cached_property

from safeward.crypto.errors import CryptoError, IntegrityError
from safeward.crypto.keyring import LoadedKey, Purpose, header_key_id, keyring
from safeward.crypto.normalise import normalise
from safeward.crypto.phi import PhiCategory

MASK = "[encrypted]"

__all__ = [
    "MASK",
    "BlindIndexField",
    "BlindPrefixField",
    "EncryptedBytesField",
    "EncryptedDateField",
    "EncryptedDateTimeField",
    "EncryptedField",
    "EncryptedJSONField",
    "EncryptedTextField",
    "IntegrityError",
    "PlainYearField",
    "Sealed",
    "blind_fields",
    "blind_filter",
    "blind_index",
    "blind_index_keys",
    "blind_indexes",
    "blind_prefix_filter",
    "compute_blind_index",
    "compute_blind_indexes",
    "decrypt_field",
    "encrypted_fields",
]


# --- the opaque value --------------------------------------------------------------------
class Sealed:
    """An encrypted field's value. Opaque until ``reveal()``."""

    __slots__ = ("_ciphertext", "_encoded", "_field", "_instance")

    def __init__(
        self,
        field: EncryptedField,
        instance: models.Model | None,
        *,
        ciphertext: bytes | None = None,
        encoded: bytes | None = None,
    ) -> None:
        self._field = field
        self._instance = instance
        self._ciphertext = ciphertext
        self._encoded = encoded

    def __repr__(self) -> str:
        return f"<Sealed {self._field.kind} {MASK}>"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __getstate__(self) -> dict[str, Any]:
        if self._ciphertext is None:
            raise TypeError("an unsaved encrypted value cannot be pickled: save the row first")
        return {"field": self._field, "instance": self._instance, "ciphertext": self._ciphertext}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._field, self._instance = state["field"], state["instance"]
        self._ciphertext, self._encoded = state["ciphertext"], None

    def __deepcopy__(self, memo: dict[int, Any]) -> Sealed:
        return Sealed(
            self._field,
            copy.deepcopy(self._instance, memo),
            ciphertext=self._ciphertext,
            encoded=self._encoded,
        )

    @property
    def is_pending(self) -> bool:
        """True for a value assigned in this process and not yet encrypted."""
        return self._ciphertext is None

    @property
    def key_id(self) -> int | None:
        """The id of the data key that encrypted the stored value."""
        return None if self._ciphertext is None else header_key_id(self._ciphertext)

    def reveal(self) -> Any:
        """Decrypt and return the plain value. Raises IntegrityError when the
        ciphertext was altered or does not belong to this row and field."""
        return self._field.codec_decode(self._plaintext())

    def _plaintext(self) -> bytes:
        if self._encoded is not None:
            return self._encoded
        assert self._ciphertext is not None
        return keyring().open(self._ciphertext, associated_data=self._associated_data())

    def _associated_data(self) -> bytes:
        if self._instance is None:
            raise CryptoError(
                f"{self._field.label}: a value read with values()/values_list() is not bound to a row; "
                "read model instances to decrypt"
            )
        row_id = self._field.row_id(self._instance)
        assert row_id is not None  # strict row_id raises instead
        return self._field.associated_data(row_id)

    def _for_storage(self) -> bytes:
        if self._ciphertext is None:
            assert self._encoded is not None
            self._ciphertext = keyring().seal(self._encoded, associated_data=self._associated_data())
            self._encoded = None
        return self._ciphertext

    def _binding(self) -> tuple[str, str, uuid.UUID | None] | None:
        if self._instance is None:
            return None
        return (
            self._field.model._meta.label_lower,
            self._field.name,
            self._field.row_id(self._instance, strict=False),
        )


class _SealedAttribute(DeferredAttribute):
    """Wraps every assignment: plaintext is validated and held as a pending
    Sealed value; values read from the database are bound to their instance."""

    field: EncryptedField

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = self.field.seal_for(instance, value)


# --- codecs -------------------------------------------------------------------------------
class EncryptedField(models.BinaryField):  # type: ignore[type-arg]
    """Base class: stores ``header | nonce | AES-256-GCM-SIV(value)`` in a binary column."""

    kind: ClassVar[str] = "value"
    default_max_length: ClassVar[int] = 65_536
    descriptor_class = _SealedAttribute
    description = "Encrypted value"

    def __init__(
        self,
        *args: Any,
        max_length: int | None = None,
        row_id_field: str = "pk",
        phi_category: PhiCategory | None = None,
        **kwargs: Any,
    ) -> None:
        self.plain_max_length = max_length or self.default_max_length
        self.row_id_field = row_id_field
        # What kind of patient data the column holds (safeward.crypto.phi): the
        # asset register classifies SafeWard's own stores from it and
        # `safeward check` refuses an encrypted field that does not say.
        self.phi_category = phi_category
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.plain_max_length != self.default_max_length:
            kwargs["max_length"] = self.plain_max_length
        if self.row_id_field != "pk":
            kwargs["row_id_field"] = self.row_id_field
        kwargs.pop("editable", None)
        # phi_category is left out: it changes no column, so it needs no migration.
        return name, path, args, kwargs

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.name}"

    # -- encoding: subclasses ------------------------------------------------------------------
    def codec_encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def codec_decode(self, data: bytes) -> Any:
        raise NotImplementedError

    def _invalid(self, message: str, code: str) -> ValidationError:
        return ValidationError(f"{self.label}: {message}", code=code)

    def _utf8(self, text: str) -> bytes:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise self._invalid(
                "the text is not valid Unicode (it holds unpaired surrogates).", "invalid"
            ) from None

    # -- binding ----------------------------------------------------------------------------------
    def _row_id_target(self) -> models.Field[Any, Any]:
        meta = self.model._meta
        if self.row_id_field == "pk":
            assert meta.pk is not None
            return meta.pk
        return meta.get_field(self.row_id_field)  # type: ignore[return-value]

    @cached_property
    def _row_id_attname(self) -> str:
        return self._row_id_target().attname

    @cached_property
    def _ad_prefix(self) -> bytes:
        return b"field|v1|%s|%s|" % (self.model._meta.label_lower.encode("ascii"), self.name.encode("ascii"))

    def row_id(self, instance: models.Model, *, strict: bool = True) -> uuid.UUID | None:
        value = getattr(instance, self._row_id_attname, None)
        if isinstance(value, uuid.UUID):
            return value
        if strict:
            raise CryptoError(
                f"{self.label}: the row has no stable UUID identifier ({self.row_id_field}) yet"
            )
        return None

    def associated_data(self, row_id: uuid.UUID) -> bytes:
        return self._ad_prefix + row_id.bytes

    def seal_for(self, instance: models.Model, value: Any) -> Sealed | None:
        if value is None:
            return None
        if isinstance(value, Sealed):
            if value._instance is instance and value._field is self:
                return value
            if value._instance is None and value._field is self:
                value._instance = instance
                return value
            binding = value._binding()
            if (
                binding is not None
                and binding[2] is not None
                and binding
                == (
                    self.model._meta.label_lower,
                    self.name,
                    self.row_id(instance, strict=False),
                )
            ):
                return Sealed(self, instance, ciphertext=value._ciphertext, encoded=value._encoded)
            raise ValueError(
                f"{self.label}: an encrypted value belongs to the row and field it was read from; "
                "reveal it and assign the plaintext to copy it"
            )
        return Sealed(self, instance, encoded=self.codec_encode(value))

    # -- Django field API -------------------------------------------------------------------------
    def get_default(self) -> Any:
        return super().get_default() if self.has_default() else None

    def _check_str_default_value(self) -> list[checks.CheckMessage]:
        return []  # a text default is plaintext to encrypt, not bytes

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        if self.unique or getattr(self, "db_index", False) or self.primary_key:
            errors.append(
                checks.Error(
                    "An encrypted field cannot be unique, indexed or a primary key "
                    "(each write has a new nonce).",
                    hint="Index a BlindIndexField over it instead.",
                    obj=self,
                    id="crypto.E102",
                )
            )
        try:
            target = self._row_id_target()
        except Exception:
            target = None
        if not isinstance(target, models.UUIDField) or not callable(target.default):
            errors.append(
                checks.Error(
                    f"Encrypted field needs a stable row identifier: {self.row_id_field!r} must be a "
                    "UUIDField with a callable default (e.g. uuid.uuid4).",
                    hint="Give the model `id = models.UUIDField(primary_key=True, default=uuid.uuid4, "
                    "editable=False)` or a `uuid` field and pass row_id_field='uuid'.",
                    obj=self,
                    id="crypto.E101",
                )
            )
        if not isinstance(self.phi_category, PhiCategory):
            errors.append(
                checks.Error(
                    "Encrypted field declares no PHI category: the asset register cannot count what it holds",
                    hint="Pass phi_category=PhiCategory.<kind> (safeward.crypto.phi), NOT_PHI for a secret "
                    "that is no patient data.",
                    obj=self,
                    id="crypto.E104",
                )
            )
        return errors

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        if value is None:
            return None
        return Sealed(self, None, ciphertext=bytes(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value._for_storage()
        raise TypeError(
            f"{self.label} is encrypted: assign the value to a model instance and save it; "
            "update() and filters cannot encrypt without the row"
        )

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        if value is None:
            return ""
        assert isinstance(value, Sealed)
        return base64.b64encode(value._for_storage()).decode("ascii")

    def clean(self, value: Any, model_instance: models.Model | None) -> Any:
        if value is None and not self.null:
            raise ValidationError(self.error_messages["null"], code="null")
        return value

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.label} is encrypted and cannot be filtered with {lookup_name!r}; "
            "search a BlindIndexField instead."
        )

    def get_transform(self, lookup_name: str) -> Any:
        return None

    def formfield(self, **kwargs: Any) -> Any:
        return None


class EncryptedTextField(EncryptedField):
    kind = "text"
    description = "Encrypted text"

    def codec_encode(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise self._invalid(f"expects text (str), not {type(value).__name__}.", "type")
        if len(value) > self.plain_max_length:
            raise self._invalid(f"the text is longer than {self.plain_max_length} characters.", "max_length")
        return self._utf8(value)

    def codec_decode(self, data: bytes) -> str:
        return data.decode("utf-8")


class EncryptedDateField(EncryptedField):
    kind = "date"
    description = "Encrypted date"

    def codec_encode(self, value: Any) -> bytes:
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise self._invalid("expects a date written YYYY-MM-DD.", "invalid") from None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self._invalid(f"expects a date, not {type(value).__name__}.", "type")
        return value.isoformat().encode("ascii")

    def codec_decode(self, data: bytes) -> dt.date:
        return dt.date.fromisoformat(data.decode("ascii"))


class EncryptedDateTimeField(EncryptedField):
    """An aware date and time, stored as ISO 8601 in UTC (microseconds kept)."""

    kind = "datetime"
    description = "Encrypted date and time"

    def codec_encode(self, value: Any) -> bytes:
        if not isinstance(value, dt.datetime):
            raise self._invalid(f"expects a date and time, not {type(value).__name__}.", "type")
        if value.tzinfo is None or value.utcoffset() is None:
            raise self._invalid("expects an aware date and time (with a time zone).", "invalid")
        return value.astimezone(dt.UTC).isoformat().encode("ascii")

    def codec_decode(self, data: bytes) -> dt.datetime:
        return dt.datetime.fromisoformat(data.decode("ascii"))


class EncryptedJSONField(EncryptedField):
    kind = "json"
    description = "Encrypted JSON"

    def codec_encode(self, value: Any) -> bytes:
        try:
            text = json.dumps(
                value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True
            )
        except (TypeError, ValueError) as error:
            kind = "NaN or infinity" if isinstance(error, ValueError) else "a value that is not JSON"
            raise self._invalid(f"expects JSON-serialisable data; it holds {kind}.", "invalid") from None
        data = self._utf8(text)
        if len(data) > self.plain_max_length:
            raise self._invalid(f"the JSON is longer than {self.plain_max_length} bytes.", "max_length")
        return data

    def codec_decode(self, data: bytes) -> Any:
        return json.loads(data.decode("utf-8"))


class EncryptedBytesField(EncryptedField):
    kind = "bytes"
    default_max_length = 1_048_576
    description = "Encrypted bytes"

    def codec_encode(self, value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise self._invalid(f"expects bytes, not {type(value).__name__}.", "type")
        data = bytes(value)
        if len(data) > self.plain_max_length:
            raise self._invalid(
                f"the value is longer than {self.plain_max_length} bytes; encrypt files with "
                "safeward.crypto.streams instead.",
                "max_length",
            )
        return data

    def codec_decode(self, data: bytes) -> bytes:
        return data


# --- blind indexes -------------------------------------------------------------------------------
INDEX_BYTES = 16
PREFIX_TOKEN_BYTES = 8
PREFIX_MARKER = "@"


def blind_index_keys() -> list[LoadedKey]:
    """The blind-index keys a search asks under: the primary, and during a
    rotation the previous one too, until `keys reencrypt` has recomputed
    every index and `keys retire` has destroyed it."""
    return keyring().usable(Purpose.BLIND_INDEX)


def _blind_key(scope: str, key: LoadedKey | None = None) -> bytes:
    key = key or keyring().primary(Purpose.BLIND_INDEX)
    return key.subkey(b"blind|" + scope.encode("utf-8"))


def index_marker(key: LoadedKey) -> bytes:
    """Indexes made by the first blind-index key carry no marker (they predate
    rotation); a later key's indexes start with its 4-byte key id, so status
    can count them per version and re-indexing can find the stale ones."""
    return b"" if key.version == 1 else struct.pack(">I", key.key_id)


def prefix_marker(key: LoadedKey) -> str:
    """The first token of a prefix column made by a later key: ``@<key id>``."""
    return "" if key.version == 1 else f"{PREFIX_MARKER}{key.key_id:08x}"


def compute_blind_index(
    value: Any, *, normaliser: str, scope: str, size: int = INDEX_BYTES, key: LoadedKey | None = None
) -> bytes:
    """``marker | HMAC-SHA256(blind key for scope, normalise(value))[:size]``
    under `key` (default: the primary blind-index key). Raises
    ValidationError for values the normaliser refuses."""
    key = key or keyring().primary(Purpose.BLIND_INDEX)
    canonical = normalise(normaliser, value)
    digest = hmac.new(_blind_key(scope, key), canonical.encode("utf-8"), hashlib.sha256).digest()[:size]
    return index_marker(key) + digest


def canonical_indexer(*, scope: str, key: LoadedKey) -> Callable[[str], bytes]:
    """The blind index of text that is already a normaliser's output: the PHI
    scanner normalises the parts of its name + birth date pairs once a scan
    each, not once a pair (ADR 1641)."""
    subkey = _blind_key(scope, key)
    marker = index_marker(key)

    def index(canonical: str) -> bytes:
        return marker + hmac.digest(subkey, canonical.encode("utf-8"), "sha256")[:INDEX_BYTES]

    return index


def blind_indexer(*, normaliser: str, scope: str, key: LoadedKey) -> Callable[[Any], bytes]:
    """`compute_blind_index` for many values under one key: the scope's
    subkey is derived once (the PHI scanner keys hundreds of thousands of
    candidates a file). Raises ValidationError as it does."""
    keyed = canonical_indexer(scope=scope, key=key)

    def index(value: Any) -> bytes:
        return keyed(normalise(normaliser, value))

    return index


def compute_blind_indexes(value: Any, *, normaliser: str, scope: str) -> list[bytes]:
    """The index of `value` under every usable blind-index key (primary first):
    what a stored index may equal while a blind-index rotation runs."""
    return [
        compute_blind_index(value, normaliser=normaliser, scope=scope, key=key) for key in blind_index_keys()
    ]


class _DerivedField(models.Field):  # type: ignore[type-arg]
    """Shared parts of the fields computed from encrypted sources at save time."""

    def _init_sources(self, of: str | Sequence[str], normaliser: str, scope: str | None) -> None:
        self.sources = (of,) if isinstance(of, str) else tuple(of)
        self.normaliser = normaliser
        self.explicit_scope = scope

    def _deconstruct_sources(self, kwargs: dict[str, Any]) -> None:
        kwargs["of"] = self.sources[0] if len(self.sources) == 1 else list(self.sources)
        kwargs["normaliser"] = self.normaliser
        if self.explicit_scope:
            kwargs["scope"] = self.explicit_scope

    @property
    def scope(self) -> str:
        return self.explicit_scope or f"{self.model._meta.label_lower}.{self.name}"

    def _check_sources(self) -> list[checks.CheckMessage]:
        errors: list[checks.CheckMessage] = []
        for source in self.sources:
            try:
                field = self.model._meta.get_field(source)
            except Exception:
                field = None
            if not isinstance(field, EncryptedField):
                errors.append(
                    checks.Error(
                        f"{self.name} indexes {source!r}, which is not an encrypted field of this model.",
                        obj=self,
                        id="crypto.E103",
                    )
                )
        return errors

    def _source_plaintexts(self, instance: models.Model) -> tuple[bool, list[Any] | None]:
        """(changed, plain values) of the sources; plain values None when a
        source is empty, and not decrypted when nothing changed."""
        values = [instance.__dict__.get(_attname(self.model, s), _MISSING) for s in self.sources]
        if any(value is _MISSING for value in values):
            return False, None  # a deferred source was not loaded: leave the index as it is
        if any(value is None for value in values):
            return True, None
        sealed: list[Sealed] = values
        changed = any(value.is_pending for value in sealed) or getattr(instance, self.attname) in (None, "")
        if not changed:
            return False, None
        return True, [value.reveal() for value in sealed]

    def _revealed_sources(self, instance: models.Model) -> list[Any] | None:
        """The plain values of the sources, None when one is empty."""
        values = [getattr(instance, _attname(self.model, s)) for s in self.sources]
        if any(value is None for value in values):
            return None
        return [value.reveal() for value in values]

    def _normaliser_input(self, plain: list[Any]) -> Any:
        return plain[0] if len(plain) == 1 else tuple(plain)

    def _derive_or_empty(self, compute: Any, value: Any, empty: Any) -> Any:
        """A value with nothing left to index (e.g. "" or "--") is stored as
        `empty`; any other value the normaliser refuses stops the save."""
        try:
            return compute(value)
        except ValidationError as error:
            if error.code == "empty":
                return empty
            raise


_MISSING = object()


def _attname(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.attname


class BlindIndexField(_DerivedField, models.BinaryField):  # type: ignore[type-arg]
    """A keyed hash of one or more encrypted fields of the same row, for exact
    search. Computed at save time; null when a source is null."""

    description = "Blind index (HMAC)"

    def __init__(
        self,
        *args: Any,
        of: str | Sequence[str] = (),
        normaliser: str = "",
        scope: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._init_sources(of, normaliser, scope)
        kwargs.setdefault("null", True)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        self._deconstruct_sources(kwargs)
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [*super().check(**kwargs), *self._check_sources()]

    def compute(self, value: Any, *, key: LoadedKey | None = None) -> bytes:
        """The index of a query value (normalised the same way), under `key`
        (default: the primary blind-index key)."""
        return compute_blind_index(value, normaliser=self.normaliser, scope=self.scope, key=key)

    def recompute(self, instance: models.Model) -> bytes | None:
        """The index of a saved row under the primary key, from its decrypted sources."""
        plain = self._revealed_sources(instance)
        if plain is None:
            return None
        result: bytes | None = self._derive_or_empty(self.compute, self._normaliser_input(plain), None)
        return result

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        changed, plain = self._source_plaintexts(model_instance)
        if changed:
            value = None
            if plain is not None:
                value = self._derive_or_empty(self.compute, self._normaliser_input(plain), None)
            setattr(model_instance, self.attname, value)
        return getattr(model_instance, self.attname)

    def get_default(self) -> Any:
        return None


def _prefix_words(canonical: str) -> list[str]:
    return [word for word in canonical.split(" ") if word]


class BlindPrefixField(_DerivedField, models.TextField):  # type: ignore[type-arg]
    """Keyed prefix tokens of a name, for partial ("starts with") search.

    For every word of the normalised name and every length k from
    ``min_prefix`` to ``max_prefix``, the token is
    ``HMAC-SHA256(k_scope, f"{k}|{word[:k]}")[:8]`` in hex; the column holds
    the tokens separated by spaces. A query of at least ``min_prefix``
    letters per word matches rows holding the token of each query word's
    first ``max_prefix`` letters; the gateway then checks candidates after
    decryption. What this leaks is written down in docs/crypto.md.
    """

    description = "Blind prefix tokens"

    def __init__(
        self,
        *args: Any,
        of: str | Sequence[str] = (),
        normaliser: str = "name",
        scope: str | None = None,
        min_prefix: int = 3,
        max_prefix: int = 8,
        **kwargs: Any,
    ) -> None:
        self._init_sources(of, normaliser, scope)
        self.min_prefix, self.max_prefix = min_prefix, max_prefix
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        self._deconstruct_sources(kwargs)
        kwargs.update(min_prefix=self.min_prefix, max_prefix=self.max_prefix)
        for key, default in (("blank", True), ("default", ""), ("editable", False)):
            if kwargs.get(key) == default:
                kwargs.pop(key)
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [*super().check(**kwargs), *self._check_sources()]

    def _token(self, key: bytes, prefix: str) -> str:
        message = f"{len(prefix)}|{prefix}".encode()
        return hmac.new(key, message, hashlib.sha256).digest()[:PREFIX_TOKEN_BYTES].hex()

    def tokens(self, value: Any, *, key: LoadedKey | None = None) -> list[str]:
        """The column's tokens under `key` (default: the primary key), its marker first, if any."""
        key = key or keyring().primary(Purpose.BLIND_INDEX)
        subkey = _blind_key(self.scope, key)
        tokens = set()
        for word in _prefix_words(normalise(self.normaliser, value)):
            for k in range(self.min_prefix, min(self.max_prefix, len(word)) + 1):
                tokens.add(self._token(subkey, word[:k]))
        marker = prefix_marker(key)
        return [marker, *sorted(tokens)] if tokens and marker else sorted(tokens)

    def query_tokens(self, text: str, *, key: LoadedKey | None = None) -> list[str]:
        """The token each query word must match, under `key` (default: the primary)."""
        words = _prefix_words(normalise(self.normaliser, text))
        if not words or any(len(word) < self.min_prefix for word in words):
            raise ValidationError(
                f"Type at least {self.min_prefix} letters of each name to search by prefix.",
                code="min_length",
            )
        subkey = _blind_key(self.scope, key)
        return [self._token(subkey, word[: self.max_prefix]) for word in words]

    def recompute(self, instance: models.Model) -> str:
        """The tokens of a saved row under the primary key, from its decrypted source."""
        plain = self._revealed_sources(instance)
        return "" if plain is None else " ".join(self._derive_or_empty(self.tokens, plain[0], []))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        changed, plain = self._source_plaintexts(model_instance)
        if changed:
            tokens = [] if plain is None else self._derive_or_empty(self.tokens, plain[0], [])
            setattr(model_instance, self.attname, " ".join(tokens))
        return getattr(model_instance, self.attname)


class PlainYearField(_DerivedField, models.SmallIntegerField):  # type: ignore[type-arg]
    """The year (UTC) of an encrypted date or date and time of the same row, in
    plain: the coarsest bucket that still lets the database pick the newest
    rows of a long history (the exact order is restored after decryption).
    A year is what HIPAA's Safe Harbor lets a de-identified set keep."""

    description = "Plain year of an encrypted date"

    def __init__(self, *args: Any, of: str = "", **kwargs: Any) -> None:
        self._init_sources(of, "", None)
        kwargs.setdefault("null", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["of"] = self.sources[0]
        kwargs.pop("editable", None)
        if kwargs.get("null") is True:
            kwargs.pop("null")
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [*super().check(**kwargs), *self._check_sources()]

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        changed, plain = self._source_plaintexts(model_instance)
        if changed:
            year = None
            if plain is not None:
                moment = plain[0]
                year = (moment.astimezone(dt.UTC) if isinstance(moment, dt.datetime) else moment).year
            setattr(model_instance, self.attname, year)
        return getattr(model_instance, self.attname)


# --- helpers ------------------------------------------------------------------------------------
def decrypt_field(instance: models.Model, name: str) -> Any:
    """The plain value of one encrypted field of a model instance (None for
    NULL). Raises IntegrityError when the stored ciphertext does not verify."""
    field = instance._meta.get_field(name)
    if not isinstance(field, EncryptedField):
        raise FieldError(f"{instance._meta.label}.{name} is not an encrypted field")
    value = getattr(instance, field.attname)
    return None if value is None else value.reveal()


def decrypt_stored(model: type[models.Model], name: str, row_id: uuid.UUID, stored: Any) -> Any:
    """The plain value of one encrypted column read by raw SQL (None for NULL),
    verified against the row it belongs to as `decrypt_field` does: for
    statements that read a few encrypted values without building model
    instances. Raises IntegrityError when the ciphertext does not verify."""
    field = _encrypted(model, name)
    if stored is None:
        return None
    return field.codec_decode(keyring().open(bytes(stored), associated_data=field.associated_data(row_id)))


@functools.cache
def _encrypted(model: type[models.Model], name: str) -> EncryptedField:
    """The encrypted field `name` of `model`, looked up once: a list's facts
    decrypt one or two stored values per narrowed row."""
    field = model._meta.get_field(name)
    if not isinstance(field, EncryptedField):
        raise FieldError(f"{model._meta.label}.{name} is not an encrypted field")
    return field


def _derived(model: type[models.Model], field_name: str, kind: type[models.Field]) -> Any:  # type: ignore[type-arg]
    field = model._meta.get_field(field_name)
    if not isinstance(field, kind):
        raise FieldError(f"{model._meta.label}.{field_name} is not a {kind.__name__}")
    return field


def blind_index(model: type[models.Model], field_name: str, value: Any) -> bytes:
    """The index a query value would have in ``model.field_name`` (primary key)."""
    field: BlindIndexField = _derived(model, field_name, BlindIndexField)
    return field.compute(value)


def blind_indexes(model: type[models.Model], field_name: str, value: Any) -> list[bytes]:
    """The indexes a stored row with this value may hold: one per usable
    blind-index key (two while a blind-index rotation runs)."""
    field: BlindIndexField = _derived(model, field_name, BlindIndexField)
    return [field.compute(value, key=key) for key in blind_index_keys()]


def blind_filter(model: type[models.Model], field_name: str, value: Any) -> Q:
    """``Q`` matching the rows whose indexed value equals ``value`` once
    normalised, under any usable blind-index key."""
    indexes = blind_indexes(model, field_name, value)
    if len(indexes) == 1:
        return Q(**{field_name: indexes[0]})
    return Q(**{f"{field_name}__in": indexes})


def blind_prefix_filter(model: type[models.Model], field_name: str, text: str) -> Q:
    """``Q`` for rows whose name has words starting with each query word
    (candidates: confirm after decryption when a word is longer than max_prefix),
    under any usable blind-index key."""
    field: BlindPrefixField = _derived(model, field_name, BlindPrefixField)
    query = Q()
    for key in blind_index_keys():
        under_key = Q()
        for token in field.query_tokens(text, key=key):
            under_key &= Q(**{f"{field_name}__contains": token})
        query |= under_key
    return query


def blind_fields() -> list[BlindIndexField | BlindPrefixField]:
    """Every blind index and prefix column of every installed concrete model."""
    from django.apps import apps

    found: list[BlindIndexField | BlindPrefixField] = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        found.extend(
            f
            for f in meta.concrete_fields
            if isinstance(f, BlindIndexField | BlindPrefixField) and f.model is model
        )
    return found


def encrypted_fields() -> list[EncryptedField]:
    """Every encrypted field of every installed concrete model (status, re-encryption, checks)."""
    from django.apps import apps

    found: list[EncryptedField] = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        found.extend(f for f in meta.concrete_fields if isinstance(f, EncryptedField) and f.model is model)
    return found

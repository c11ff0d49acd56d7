"""Named normalisers for blind indexes: two spellings of the same fact must give
the same index, so values are normalised before they are keyed.

=============  ===============================================================
name           what counts as the same
=============  ===============================================================
``mrn``        case, spaces, ``-``, ``.``, ``/``, ``_`` (``mrn-00 12`` = ``MRN0012``)
``national_id``everything but letters and digits; case (``123-45-6789`` = ``123456789``)
``phone``      everything but digits; a leading international ``00`` = ``+``
               (``+44 (20) 7946-0000`` = ``0044 20 7946 0000``). National and
               international forms of one number stay different: the index
               does not guess a country.
``email``      surrounding spaces, case of the whole address, Unicode width
``date``       a ``datetime.date`` or an ISO ``YYYY-MM-DD`` string
``name``       case, accents and other diacritics, punctuation, runs of spaces
               (``  José  O'Brien-Núñez`` = ``jose o brien nunez``)
``name_dob``   ``name`` and ``date`` of a (name, date of birth) pair
=============  ===============================================================

Each normaliser returns the canonical text or raises ``ValidationError`` with
a message that never repeats the value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

MAX_INPUT = 1000

# Letters NFKD does not decompose into a base letter plus a mark.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "\u0131": "i",  # dotless i
        "ħ": "h",
        "Ħ": "h",
    }
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_MRN_SEPARATORS = re.compile(r"[\s\-./_]+")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _text(value: Any, kind: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"The {kind} must be text.", code="type")
    if len(value) > MAX_INPUT:
        raise ValidationError(f"The {kind} is longer than {MAX_INPUT} characters.", code="max_length")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"The {kind} has characters that cannot be read.", code="invalid") from None
    return unicodedata.normalize("NFKC", value)


def _non_empty(result: str, kind: str, needs: str = "at least one letter or digit") -> str:
    if not result:
        raise ValidationError(f"The {kind} needs {needs}.", code="empty")
    return result


def normalise_mrn(value: Any) -> str:
    return _non_empty(
        _MRN_SEPARATORS.sub("", _text(value, "medical record number")).upper(), "medical record number"
    )


def normalise_national_id(value: Any) -> str:
    text = _text(value, "national identifier").casefold()
    return _non_empty(_NON_ALNUM.sub("", text).upper(), "national identifier")


def normalise_phone(value: Any) -> str:
    text = _text(value, "phone number").strip()
    international = text.startswith("+")
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    return ("+" if international else "") + _non_empty(digits, "phone number", needs="at least one digit")


def normalise_email(value: Any) -> str:
    text = _text(value, "e-mail address").strip().casefold()
    if text.count("@") != 1 or text.startswith("@") or text.endswith("@"):
        raise ValidationError("An e-mail address needs one @ with text on both sides.", code="invalid")
    return text


def normalise_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        raise ValidationError("Give a date without a time.", code="type")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _text(value, "date").strip()
    if not _ISO_DATE.match(text):
        raise ValidationError("Write the date as YYYY-MM-DD.", code="invalid")
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValidationError("This date does not exist in the calendar.", code="invalid") from None


def normalise_local_day(value: Any) -> str:
    """The day (in the server's time zone) of an aware date and time, or a date:
    a day index answers "on one of these days" without storing the time."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValidationError("A time to index by its day must carry a time zone.", code="type")
        return timezone.localtime(value).date().isoformat()
    return normalise_date(value)


def normalise_name(value: Any) -> str:
    text = _text(value, "name").translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().translate(_FOLD)
    return _non_empty(_NON_ALNUM.sub(" ", bare).strip(), "name")


def normalise_name_dob(value: Any) -> str:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ValidationError("A name + date-of-birth index needs a (name, date) pair.", code="type")
    return f"{normalise_name(value[0])}|{normalise_date(value[1])}"


NORMALISERS: dict[str, Callable[[Any], str]] = {
    "mrn": normalise_mrn,
    "national_id": normalise_national_id,
    "phone": normalise_phone,
    "email": normalise_email,
    "date": normalise_date,
    "local_day": normalise_local_day,
    "name": normalise_name,
    "name_dob": normalise_name_dob,
}


def normalise(name: str, value: Any) -> str:
    try:
        normaliser = NORMALISERS[name]
    except KeyError:
        raise ValueError(f"unknown normaliser {name!r}; known: {', '.join(sorted(NORMALISERS))}") from None
    return normaliser(value)

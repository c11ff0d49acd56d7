"""Password rules per NIST SP 800-63B: length, not composition; a blocklist of
common and breached passwords; no forced periodic change."""

from __future__ import annotations

import functools
import gzip
import re
import unicodedata
from pathlib import Path
from typing import Any

import django.contrib.auth
from django.core.exceptions import ValidationError

# Django ships 20,000 passwords most common in breach corpora; SafeWard adds
# the words people choose at work in a hospital.
DJANGO_BLOCKLIST = Path(django.contrib.auth.__file__).parent / "common-passwords.txt.gz"
LOCAL_BLOCKLIST = Path(__file__).parent / "data" / "blocked-passwords.txt"
MAXIMUM_LENGTH = 128


def _normalise(password: str) -> str:
    folded = unicodedata.normalize("NFKC", password).casefold()
    return re.sub(r"\s+", "", folded)


@functools.cache
def _blocklist() -> frozenset[str]:
    with gzip.open(DJANGO_BLOCKLIST, "rt", encoding="utf-8") as handle:
        words = {_normalise(line.strip()) for line in handle if line.strip()}
    with LOCAL_BLOCKLIST.open(encoding="utf-8") as handle:
        words |= {_normalise(line.strip()) for line in handle if line.strip() and not line.startswith("#")}
    return frozenset(words)


class BlocklistValidator:
    """Refuses passwords that appear in lists of common and breached passwords,
    also with digits or punctuation stuck on the end ("password1234!")."""

    def validate(self, password: str, user: Any = None) -> None:
        normalised = _normalise(password)
        stripped = re.sub(r"[\d\W_]+$", "", normalised)
        blocked = _blocklist()
        if normalised in blocked or (len(stripped) >= 4 and stripped in blocked):
            raise ValidationError(
                "This password is too common or has appeared in data breaches. "
                "Choose a longer passphrase that is not a well-known password.",
                code="password_blocklisted",
            )

    def get_help_text(self) -> str:
        return "Your password cannot be a commonly used or breached password."


class MaximumLengthValidator:
    """A very long password is a denial-of-service on the hasher, not extra safety."""

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > MAXIMUM_LENGTH:
            raise ValidationError(f"Use at most {MAXIMUM_LENGTH} characters.", code="password_too_long")

    def get_help_text(self) -> str:
        return f"Your password can be up to {MAXIMUM_LENGTH} characters long; spaces are allowed."

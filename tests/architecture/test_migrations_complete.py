"""Every model change has its migration: a vocabulary or field changed without
one is applied nowhere, and the next `makemigrations` on an operator's machine
would write it there."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as missing:
        pytest.fail(f"makemigrations would write new migrations (exit {missing.code}):\n{out.getvalue()}")

"""Django's `flush`, made safe for the audit trail: it empties every table,
the append-only audit tables included, so it is refused outside the test
settings. The test suite's transactional tests flush between tests; for them
the append-only triggers are dropped for the flush and put back after."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import connections

from safeward.audit import dbguard


class Command(flush.Command):
    help = "Empty the database (test settings only: it would erase the audit trail)."

    def handle(self, **options: Any) -> None:
        if getattr(settings, "SAFEWARD_ENV", "") != "test":
            raise CommandError(
                "flush would erase the audit trail and is refused outside tests; "
                "retention and archiving go through `safeward audit archive`."
            )
        connection = connections[options["database"]]
        with dbguard.suspended(connection):
            super().handle(**options)

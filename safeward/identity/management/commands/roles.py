from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from safeward.identity.models import Role
from safeward.identity.roles import CATALOG, sync_roles


class Command(BaseCommand):
    help = "Show the role catalog, or `sync` the stored roles back to it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "sync"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "sync":
            changed = sync_roles(Role)
            self.stdout.write(self.style.SUCCESS(f"{changed} role(s) brought back to the catalog."))
            return
        for spec in CATALOG:
            flags = ", ".join(
                f for f, on in (("privileged", spec.privileged), ("remote", spec.remote_access)) if on
            )
            self.stdout.write(f"{spec.code:20} {spec.name}{f' ({flags})' if flags else ''}")
            for perm in sorted(spec.permissions):
                self.stdout.write(f"    {perm}")

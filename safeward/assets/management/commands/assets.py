"""`safeward assets list` — the register, one asset a line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from safeward.assets import selectors


class Command(BaseCommand):
    help = "The information-asset register."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("list", help="List the registered assets.")

    def handle(self, *args: Any, **options: Any) -> None:
        assets = selectors.assets_list()
        for asset in assets:
            self.stdout.write(
                f"{asset.pk}\t{asset.kind}\t{asset.classification or 'unclassified'}\t"
                f"{asset.review_state}\t{asset.name}"
            )
        self.stdout.write(f"{len(assets)} asset(s).")

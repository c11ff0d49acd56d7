"""`safeward devices purge-consents` — delete the consenting browsers' devices kept with
authorization codes that expired unexchanged (ADR 1020). The scheduler runs it daily
(`devices_consents` job); by hand it needs no account: it deletes only what expired.

A subcommand module of the `safeward devices` command (see cli_wipes for the shape)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from safeward.devices.oauth_links import consents_purge

NAME = "purge-consents"
HELP = "Delete the consent devices of authorization codes that expired unexchanged."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: what expired is decided by the clock."""


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    deleted = consents_purge(actor=None)
    command.stdout.write(f"{deleted} expired consent device(s) deleted.")

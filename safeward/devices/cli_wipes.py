"""`safeward devices wipes` lists remote wipes awaiting confirmation (pending, or overdue
after SAFEWARD_WIPE_CONFIRM_HOURS); `safeward devices confirm-wipe ASSET_TAG --note TEXT
--as USERNAME` confirms the open wipe of a device by hand (ADR 1017). An MDM import that
reports the device wiped confirms it by itself.

Subcommands of the `safeward devices` command: (NAME, HELP, add_arguments, run) pairs."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from safeward.devices.models import WipeRequest
from safeward.devices.posture_selectors import wipe_rows
from safeward.devices.services import DeviceError
from safeward.devices.wipes import wipe_confirm
from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_by_username

LIST_NAME = "wipes"
LIST_HELP = "List remote wipes awaiting the MDM's confirmation (pending or overdue)."
CONFIRM_NAME = "confirm-wipe"
CONFIRM_HELP = "Confirm by hand that a lost device was wiped (what you saw in --note)."


def list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="Confirmed wipes too.")


def list_run(command: BaseCommand, options: dict[str, Any]) -> None:
    rows = wipe_rows(open_only=not options.get("all"))
    for row in rows:
        wipe = row.wipe
        command.stdout.write(
            f"{wipe.pk}\t{wipe.device.asset_tag}\t{wipe.requested_at:%Y-%m-%d %H:%M}\t{row.state}"
            f"\t{wipe.confirmation_source or '-'}\tincident {wipe.incident_id or '-'}"
        )
    if not rows:
        command.stdout.write("No wipe awaiting confirmation.")


def confirm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("asset_tag", help="The lost device's asset tag.")
    parser.add_argument("--note", required=True, help="How you know it was wiped. No patient details.")
    parser.add_argument("--as", dest="actor", required=True, help="Who confirms (a username).")


def confirm_run(command: BaseCommand, options: dict[str, Any]) -> None:
    actor = user_by_username(username=options["actor"])
    if actor is None or not actor.has_perm(Perm.DEVICES_DEVICE_MANAGE):
        raise CommandError(f"{options['actor']!r} is not an account that manages devices.")
    wipe = (
        WipeRequest.objects.filter(device__asset_tag=options["asset_tag"], confirmed_at__isnull=True)
        .order_by("-requested_at")
        .first()
    )
    if wipe is None:
        raise CommandError(f"No unconfirmed wipe request for asset tag {options['asset_tag']!r}.")
    try:
        wipe_confirm(actor=actor, wipe_id=wipe.pk, note=options["note"])
    except DeviceError as error:
        raise CommandError(str(error)) from error
    command.stdout.write(command.style.SUCCESS(f"Remote wipe {wipe.pk} of {options['asset_tag']} confirmed."))

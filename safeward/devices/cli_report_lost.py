"""`safeward devices report-lost ASSET_TAG --stolen --reason TEXT --as USERNAME` — a device was
lost or stolen: its sessions and tokens end, a remote wipe is requested, an incident opens.

A subcommand module of the `safeward devices` command: NAME, HELP,
add_arguments(parser) and run(command, options)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from safeward.devices.models import Device
from safeward.devices.posture import device_report_lost
from safeward.devices.services import DeviceError
from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_by_username

NAME = "report-lost"
HELP = "Report a device lost or stolen: end its sessions and tokens, request a wipe, open an incident."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("asset_tag", help="The device's asset tag.")
    parser.add_argument("--stolen", action="store_true", help="Stolen rather than lost.")
    parser.add_argument("--reason", required=True, help="Where and when it was last seen.")
    parser.add_argument("--as", dest="actor", required=True, help="Who reports it (a username).")


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    actor = user_by_username(username=options["actor"])
    if actor is None or not actor.has_perm(Perm.DEVICES_DEVICE_MANAGE):
        raise CommandError(f"{options['actor']!r} is not an account that manages devices.")
    device = Device.objects.filter(asset_tag=options["asset_tag"]).first()
    if device is None:
        raise CommandError(f"No device with asset tag {options['asset_tag']!r}.")
    state = Device.Lifecycle.STOLEN if options.get("stolen") else Device.Lifecycle.LOST
    try:
        report = device_report_lost(actor=actor, device_id=device.pk, state=state, reason=options["reason"])
    except DeviceError as error:
        raise CommandError(str(error)) from error
    command.stdout.write(
        command.style.SUCCESS(
            f"{device.asset_tag} reported {state}: {report.sessions_ended} session(s) ended, "
            f"{report.tokens_revoked} token(s) revoked, wipe request {report.wipe.pk}, "
            f"incident {report.incident_id}."
        )
    )

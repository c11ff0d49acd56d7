"""`safeward devices client-links|link-client|unlink-client` — OAuth clients whose credentials
live on one device (a ward kiosk, a shared workstation app; ADR 1018). Linking decides how
every token of the client is judged, so it takes a security officer (`--as`).

A subcommand module of the `safeward devices` command (see cli_wipes for the shape)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from safeward.devices.models import Device
from safeward.devices.oauth_links import LINK_PERMISSION, client_link, client_links, client_unlink
from safeward.devices.services import DeviceError
from safeward.identity.models import User
from safeward.identity.selectors import user_by_username

LIST_NAME = "client-links"
LIST_HELP = "The OAuth clients linked to a device, with the device's posture now."
LINK_NAME = "link-client"
LINK_HELP = "Link an OAuth client to the device its credentials live on (a security officer)."
UNLINK_NAME = "unlink-client"
UNLINK_HELP = "End an OAuth client's link to its device (a security officer)."


def list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="Only this asset tag.")


def list_run(command: BaseCommand, options: dict[str, Any]) -> None:
    device_id = None
    if options.get("device"):
        device_id = _device(options["device"]).pk
    rows = client_links(device_id=device_id)
    for row in rows:
        link = row.link
        command.stdout.write(
            f"{link.device.asset_tag}\t{row.posture}\t{link.application.client_id}\t{link.application.name}"
            f"\tlinked {link.linked_at:%Y-%m-%d %H:%M}\t{link.reason}"
        )
    command.stdout.write(f"{len(rows)} client(s) linked.")


def link_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("asset_tag", help="The device the client's credentials live on.")
    parser.add_argument("client_id", help="The OAuth client id.")
    parser.add_argument("--reason", required=True, help="Why (the ward, what the app is for).")
    parser.add_argument("--as", dest="actor", required=True, help="The security officer (a username).")


def unlink_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("client_id", help="The OAuth client id.")
    parser.add_argument("--reason", required=True, help="Why the link ends.")
    parser.add_argument("--as", dest="actor", required=True, help="The security officer (a username).")


def _officer(username: str) -> User:
    actor = user_by_username(username=username)
    if actor is None or not actor.has_perm(LINK_PERMISSION):
        raise CommandError(f"{username!r} is not a security officer's account ({LINK_PERMISSION}).")
    return actor


def _device(asset_tag: str) -> Device:
    device = Device.objects.filter(asset_tag=asset_tag).first()
    if device is None:
        raise CommandError(f"No device with asset tag {asset_tag!r}; see `safeward devices list`.")
    return device


def link_run(command: BaseCommand, options: dict[str, Any]) -> None:
    actor = _officer(options["actor"])
    device = _device(options["asset_tag"])
    try:
        client_link(
            actor=actor, device_id=device.pk, client_id=options["client_id"], reason=options["reason"]
        )
    except DeviceError as error:
        raise CommandError(str(error)) from error
    command.stdout.write(
        command.style.SUCCESS(
            f"{options['client_id']} linked to {device.asset_tag}: "
            "its tokens now follow the device's posture."
        )
    )


def unlink_run(command: BaseCommand, options: dict[str, Any]) -> None:
    actor = _officer(options["actor"])
    try:
        device = client_unlink(actor=actor, client_id=options["client_id"], reason=options["reason"])
    except DeviceError as error:
        raise CommandError(str(error)) from error
    command.stdout.write(command.style.SUCCESS(f"{options['client_id']} unlinked from {device.asset_tag}."))

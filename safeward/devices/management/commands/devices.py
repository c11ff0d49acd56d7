"""`safeward devices` — the device inventory, networks, MDS2 and compensating
controls from the command line.

list                         the inventory, one device a line (--legacy, --red)
import-inventory FILE        apply a device inventory CSV (all rows or none)
import-flows FILE            add the allowed flows of a CSV (all rows or none)
import-flow-export FILE      what the network carried (firewall log / flow export CSV), compared with
                             the declared flows; the segment live tests read the latest export
import-mds2 FILE             store a model's MDS2 (xlsx or CSV) and derive its controls
controls [--sweep]           the compensating controls and their live-test state;
                             --sweep records the failing ones for detection
client-links | link-client ASSET_TAG CLIENT_ID | unlink-client CLIENT_ID
                             OAuth clients whose credentials live on a device (ADR 1018)

Subcommands are the SUBCOMMANDS list: another part of the app adds one by
appending a Subcommand (name, help, add_arguments, run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.devices import (
    cli_client_links,
    cli_consents,
    cli_posture,
    cli_report_lost,
    cli_wipes,
    flow_exports,
    importers,
    selectors,
    services,
)
from safeward.identity.models import User
from safeward.identity.selectors import user_by_username

MAX_FILE = 8 * 1024 * 1024


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    add_arguments: Callable[[CommandParser], None]
    run: Callable[[BaseCommand, dict[str, Any]], None]


def _read(path: Path, limit: int = MAX_FILE) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise CommandError(f"{path} is larger than {limit // (1024 * 1024)} MiB; split it.")
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None


def _actor(username: str) -> User | None:
    if not username:
        return None
    actor = user_by_username(username=username)
    if actor is None or not actor.is_active:
        raise CommandError(f"no active SafeWard account {username!r}; give your own username with --as.")
    return actor


def _file_and_actor(parser: CommandParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--as", dest="username", default="", help="Your SafeWard username, for the audit trail."
    )


def _report(command: BaseCommand, result: importers.ImportResult) -> None:
    if not result.ok:
        for error in result.errors:
            command.stderr.write(f"line {error.line}: {error.reason}")
        raise CommandError(f"{len(result.errors)} bad row(s); nothing was imported. Fix them and run again.")
    command.stdout.write(
        f"Imported: {result.created} created, {result.updated} updated, {result.unchanged} unchanged."
    )


def _list_arguments(parser: CommandParser) -> None:
    parser.add_argument("--legacy", action="store_true", help="Only devices past their end of support.")
    parser.add_argument("--red", action="store_true", help="Only devices with a failing control.")


def _list(command: BaseCommand, options: dict[str, Any]) -> None:
    devices = selectors.devices_list(legacy=options["legacy"], control="failing" if options["red"] else "")
    health = selectors.device_health(devices)
    for device in devices:
        state = "RED" if health[device.pk].red else "ok"
        legacy = "legacy" if device.is_legacy else "-"  # type: ignore[attr-defined]
        segment = device.segment.name if device.segment else "-"
        command.stdout.write(
            f"{device.asset_tag}\t{device.kind}\t{device.lifecycle}\t{segment}\t{legacy}\t{state}\t"
            f"{'; '.join(health[device.pk].reasons)}"
        )
    command.stdout.write(f"{len(devices)} device(s).")


def _import_inventory(command: BaseCommand, options: dict[str, Any]) -> None:
    data = _read(options["file"])
    _report(command, importers.inventory_import(actor=_actor(options["username"]), data=data))


def _import_flows(command: BaseCommand, options: dict[str, Any]) -> None:
    data = _read(options["file"])
    _report(command, importers.flows_import(actor=_actor(options["username"]), data=data))


def _import_flow_export(command: BaseCommand, options: dict[str, Any]) -> None:
    path: Path = options["file"]
    result = flow_exports.flow_export_import(
        actor=_actor(options["username"]), data=_read(path, flow_exports.MAX_BYTES), filename=path.name
    )
    if not result.ok:
        for error in result.errors:
            command.stderr.write(f"line {error.line}: {error.reason}")
        raise CommandError(f"{len(result.errors)} bad row(s); nothing was imported. Fix them and run again.")
    command.stdout.write(
        f"Flow export {result.export.pk if result.export else '-'}: {result.rows:,} rows,"
        f" {result.flows} distinct flows, {result.undeclared} not declared"
        + ("; see the segments page." if result.undeclared else ".")
    )


def _mds2_arguments(parser: CommandParser) -> None:
    _file_and_actor(parser)
    parser.add_argument("--manufacturer", default="", help="Default: the answer to DOC-1.")
    parser.add_argument("--model", default="", help="Default: the answer to DOC-3.")
    parser.add_argument("--owner", default="", help="Username owning the derived controls (default: --as).")


def _import_mds2(command: BaseCommand, options: dict[str, Any]) -> None:
    path: Path = options["file"]
    data = _read(path)
    actor = _actor(options["username"])
    owner = _actor(options["owner"]) if options["owner"] else actor
    if owner is None:
        raise CommandError("the derived controls need an owner: give --owner or --as.")
    statement, errors, created = services.mds2_import(
        actor=actor,
        data=data,
        filename=path.name,
        manufacturer=options["manufacturer"],
        model=options["model"],
        owner=owner,
    )
    if statement is None:
        for error in errors:
            command.stderr.write(f"line {error.line}: {error.reason}")
        raise CommandError(f"{len(errors)} problem(s); nothing was imported. Fix them and run again.")
    command.stdout.write(f"MDS2 for {statement}: {statement.answers.count()} answers stored.")
    for control in created:
        command.stdout.write(f"  derived {control.resource_id}\t{control.kind}\t{control.title}")
    command.stdout.write(f"{len(created)} compensating control(s) derived.")


def _controls_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="Record the failing and expired controls (run daily; detection alerts).",
    )


def _controls(command: BaseCommand, options: dict[str, Any]) -> None:
    controls = selectors.controls_list()
    for control in controls:
        state = selectors.control_state(control)
        command.stdout.write(
            f"{control.resource_id}\t{state.state}\t{control.expires_on:%Y-%m-%d}\t{control.scope_label}\t"
            f"{control.title}\t{state.reason}"
        )
    command.stdout.write(f"{len(controls)} control(s).")
    if options["sweep"]:
        failing = services.controls_sweep()
        command.stdout.write(
            f"{failing} failing or expired control(s) recorded"
            + ("; `safeward detect` raises their alerts." if failing else ".")
        )


SUBCOMMANDS: list[Subcommand] = [
    Subcommand("list", "List the device inventory.", _list_arguments, _list),
    Subcommand(
        "import-inventory",
        "Import a device inventory CSV (all rows or none).",
        _file_and_actor,
        _import_inventory,
    ),
    Subcommand(
        "import-flows", "Import allowed flows from a CSV (all rows or none).", _file_and_actor, _import_flows
    ),
    Subcommand(
        "import-flow-export",
        "Import a firewall log or flow export CSV (what the network carried).",
        _file_and_actor,
        _import_flow_export,
    ),
    Subcommand(
        "import-mds2",
        "Import a model's MDS2 (xlsx or CSV) and derive its controls.",
        _mds2_arguments,
        _import_mds2,
    ),
    Subcommand(
        "controls",
        "List compensating controls; --sweep records the failing ones.",
        _controls_arguments,
        _controls,
    ),
    # Posture (ADR 1010, 1013): MDM exports and lost or stolen devices.
    Subcommand(cli_posture.NAME, cli_posture.HELP, cli_posture.add_arguments, cli_posture.run),
    Subcommand(
        cli_report_lost.NAME, cli_report_lost.HELP, cli_report_lost.add_arguments, cli_report_lost.run
    ),
    # Wipe confirmation (ADR 1017).
    Subcommand(cli_wipes.LIST_NAME, cli_wipes.LIST_HELP, cli_wipes.list_arguments, cli_wipes.list_run),
    Subcommand(
        cli_wipes.CONFIRM_NAME, cli_wipes.CONFIRM_HELP, cli_wipes.confirm_arguments, cli_wipes.confirm_run
    ),
    # OAuth clients whose credentials live on a device (ADR 1018).
    Subcommand(
        cli_client_links.LIST_NAME,
        cli_client_links.LIST_HELP,
        cli_client_links.list_arguments,
        cli_client_links.list_run,
    ),
    Subcommand(
        cli_client_links.LINK_NAME,
        cli_client_links.LINK_HELP,
        cli_client_links.link_arguments,
        cli_client_links.link_run,
    ),
    Subcommand(
        cli_client_links.UNLINK_NAME,
        cli_client_links.UNLINK_HELP,
        cli_client_links.unlink_arguments,
        cli_client_links.unlink_run,
    ),
    # Consent devices of codes never exchanged (ADR 1020).
    Subcommand(cli_consents.NAME, cli_consents.HELP, cli_consents.add_arguments, cli_consents.run),
]


class Command(BaseCommand):
    help = "Devices and networks: inventory, flows, MDS2 and compensating controls."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        for sub in SUBCOMMANDS:
            sub.add_arguments(commands.add_parser(sub.name, help=sub.help))

    def handle(self, *args: Any, **options: Any) -> None:
        for sub in SUBCOMMANDS:
            if sub.name == options["action"]:
                sub.run(self, options)
                return
        raise CommandError(f"unknown subcommand {options['action']!r}")  # pragma: no cover


__all__ = ["SUBCOMMANDS", "Subcommand"]

"""`safeward devices import-posture` — posture from MDM / agent exports.

    import-posture FILE [--format fleet|intune|jamf]   import one export (format guessed if omitted)
    import-posture --watch [--dir DIR] [--once]        import every new file dropped in the watched
                                                       folder (SAFEWARD_POSTURE_WATCH_DIR), moving
                                                       each to done/ or failed/ (with its errors)

A subcommand module of the `safeward devices` command: NAME, HELP,
add_arguments(parser) and run(command, options)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from safeward import clock
from safeward.devices.posture import (
    MAX_IMPORT_BYTES,
    PARSERS,
    ImportResult,
    PostureImportError,
    posture_import,
    source_detect,
)
from safeward.identity.models import User
from safeward.identity.selectors import user_by_username

NAME = "import-posture"
HELP = "Import device posture from a Fleet JSON, Intune CSV or Jamf CSV export, or watch a folder for them."
SUFFIXES = (".json", ".csv")
SETTLE_SECONDS = 2.0  # a file still being written is left for the next pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, help="The export to import.")
    parser.add_argument(
        "--format", choices=sorted(str(s) for s in PARSERS), help="The export's format (guessed if omitted)."
    )
    parser.add_argument(
        "--watch", action="store_true", help="Import the files dropped in the watched folder."
    )
    parser.add_argument("--dir", type=Path, help="The watched folder (default SAFEWARD_POSTURE_WATCH_DIR).")
    parser.add_argument("--once", action="store_true", help="With --watch: one pass, then stop.")
    parser.add_argument("--interval", type=float, default=30.0, help="With --watch: seconds between passes.")
    parser.add_argument("--as", dest="actor", help="The username to record as the importer.")


def _actor(username: str | None) -> User | None:
    if not username:
        return None
    user = user_by_username(username=username)
    if user is None:
        raise CommandError(f"No account {username!r}: pass an existing username to --as.")
    return user


def _summary(result: ImportResult) -> str:
    text = (
        f"{result.imported} device(s) updated from {result.rows} row(s): "
        f"{result.compliant} compliant, {result.non_compliant} not compliant"
    )
    if result.unmatched_count:
        shown = ", ".join(result.unmatched[:10])
        more = "…" if result.unmatched_count > 10 else ""
        text += (
            f"; {result.unmatched_count} not in the inventory ({shown}{more}): "
            "add them to the inventory to track their posture"
        )
    return text + "."


def import_file(path: Path, *, source: str | None, actor: User | None) -> ImportResult:
    if not path.is_file():
        raise PostureImportError([f"{path} is not a file."])
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise PostureImportError([f"{path.name} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB."])
    data = path.read_bytes()
    source = source or source_detect(filename=path.name, data=data)
    bar = tqdm(desc=f"posture {path.name}", unit="device", file=sys.stderr, disable=None)
    try:
        return posture_import(actor=actor, source=source, data=data, filename=path.name, progress=bar.update)
    finally:
        bar.close()


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    target = folder / f"{stamp}-{path.name}"
    path.replace(target)
    return target


def watch_pass(directory: Path, *, actor: User | None, command: BaseCommand | None = None) -> tuple[int, int]:
    """Import every settled file in `directory`; returns (done, failed)."""
    done = failed = 0
    now = time.time()
    for path in sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES):
        if now - path.stat().st_mtime < SETTLE_SECONDS:
            continue
        try:
            result = import_file(path, source=None, actor=actor)
        except PostureImportError as error:
            target = _move(path, directory / "failed")
            target.with_name(target.name + ".errors.txt").write_text("\n".join(error.errors) + "\n")
            failed += 1
            if command is not None:
                command.stderr.write(
                    f"{path.name}: refused, {len(error.errors)} error(s); see {target}.errors.txt"
                )
            continue
        _move(path, directory / "done")
        done += 1
        if command is not None:
            command.stdout.write(f"{path.name}: {_summary(result)}")
    return done, failed


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    actor = _actor(options.get("actor"))
    if options.get("watch"):
        directory = options.get("dir") or Path(settings.SAFEWARD_POSTURE_WATCH_DIR)
        if not directory.is_dir():
            raise CommandError(f"The watched folder {directory} does not exist: create it or pass --dir.")
        while True:
            done, failed = watch_pass(directory, actor=actor, command=command)
            if options.get("once"):
                command.stdout.write(f"Watched folder: {done} imported, {failed} refused.")
                return
            time.sleep(max(1.0, float(options.get("interval") or 30.0)))
    path = options.get("file")
    if path is None:
        raise CommandError("Name the export to import, or pass --watch.")
    try:
        result = import_file(path, source=options.get("format"), actor=actor)
    except PostureImportError as error:
        raise CommandError(
            "Nothing was imported; fix these rows and run again:\n" + "\n".join(error.errors[:50])
        ) from error
    command.stdout.write(command.style.SUCCESS(_summary(result)))

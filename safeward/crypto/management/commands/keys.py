"""safeward keys status|rotate|reencrypt|retire|rewrap|seal — see docs/crypto.md."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.crypto.errors import CryptoError
from safeward.crypto.keyring import Purpose
from safeward.crypto.providers import EnvKeyProvider, FileKeyProvider, KeyProvider
from safeward.crypto.registry import registered_stores
from safeward.crypto.secrets import encrypt_secret
from safeward.crypto.selectors import COUNTED, keyring_status
from safeward.crypto.services import (
    ROTATABLE,
    Actor,
    key_retire,
    key_rotate,
    keys_ensure,
    keys_reencrypt,
    keys_rewrap,
)
from safeward.crypto.stores import EnvironmentSecretStore


def setting_secret_purposes() -> set[str]:
    """Purposes of the secrets operators keep in settings (registered stores)."""
    return {
        purpose
        for store in registered_stores()
        if isinstance(store, EnvironmentSecretStore)
        for purpose in store.secret_purposes
    }


def _operator() -> Actor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(name=f"cli:{name}"[:150])


class Command(BaseCommand):
    help = "Manage SafeWard's encryption keys: status, rotate, reencrypt, retire, rewrap, seal."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="operation", required=True)
        sub.add_parser("status", help="Every key version and how many values it protects.")
        rotate = sub.add_parser("rotate", help="Make a new primary key.")
        rotate.add_argument("--purpose", choices=list(ROTATABLE), default=Purpose.DATA)
        reencrypt = sub.add_parser(
            "reencrypt",
            help="Move every value to the primary key of its purpose; recompute blind indexes (resumable).",
        )
        reencrypt.add_argument("--batch-size", type=int, default=500)
        reencrypt.add_argument("--no-progress", action="store_true", help="No progress bar.")
        rewrap = sub.add_parser(
            "rewrap", help="Wrap every key under a new KEK (file or env provider); the old KEK is kept."
        )
        target = rewrap.add_mutually_exclusive_group(required=True)
        target.add_argument(
            "--to-key-dir",
            type=Path,
            help="Folder of the new KEK file (kek.key, created if absent) for the file provider.",
        )
        target.add_argument(
            "--to-env",
            metavar="VARIABLE",
            help="Name of the environment variable that holds the new KEK (base64) for the env provider.",
        )
        seal = sub.add_parser(
            "seal", help="Seal a secret read from standard input for a setting (prints an sws1. token)."
        )
        seal.add_argument("--purpose", required=True, choices=sorted(setting_secret_purposes()))
        retire = sub.add_parser("retire", help="Destroy a key version that protects nothing.")
        retire.add_argument("--version", type=int, required=True, dest="key_version")
        retire.add_argument("--purpose", choices=list(ROTATABLE), default=Purpose.DATA)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = _operator()
        try:
            getattr(self, f"_{options['operation']}")(actor, options)
        except CryptoError as error:
            raise CommandError(str(error)) from None

    def _status(self, actor: Actor, options: dict[str, Any]) -> None:
        keys_ensure(actor=actor)
        status = keyring_status()
        self.stdout.write(
            f"{'purpose':<12} {'ver':>4} {'key id':<9} {'state':<8} {'created':<17} {'protects':>9}"
        )
        for key in status.keys:
            self.stdout.write(
                f"{key.purpose:<12} {key.version:>4} {key.key_id_hex:<9} {key.state:<8} "
                f"{key.created_at:%Y-%m-%d %H:%M} {key.protects if key.purpose in COUNTED else '-':>9}"
            )
            for store, count in sorted(key.by_store.items()):
                self.stdout.write(f"{'':>14}{store}: {count}")
        for key_id, count in sorted(status.unknown.items()):
            self.stdout.write(
                self.style.ERROR(f"{count} values name key id {key_id:08x}, which the keyring lacks")
            )
        if status.pending:
            self.stdout.write(
                self.style.WARNING(f"{status.pending} values wait for `safeward keys reencrypt`.")
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    "Every value is under the primary data key and every blind index under the "
                    "primary blind-index key."
                )
            )

    def _rotate(self, actor: Actor, options: dict[str, Any]) -> None:
        key = key_rotate(actor=actor, purpose=options["purpose"])
        self.stdout.write(
            self.style.SUCCESS(f"{key.purpose} key v{key.version} ({key.key_id_hex}) is now primary.")
        )
        if key.purpose == Purpose.DATA:
            self.stdout.write("Run `safeward keys reencrypt` to move existing values to it.")
        if key.purpose == Purpose.BLIND_INDEX:
            self.stdout.write(
                "Searches ask under both keys until `safeward keys reencrypt` has recomputed every index."
            )

    def _reencrypt(self, actor: Actor, options: dict[str, Any]) -> None:
        from tqdm import tqdm

        bar: Any = None

        def start(total: int) -> None:
            nonlocal bar
            bar = tqdm(
                total=total,
                unit="value",
                file=sys.stderr,
                disable=options["no_progress"] or None,  # None: only on a terminal
            )

        def batch(moved: int) -> None:
            bar.update(moved)

        try:
            result = keys_reencrypt(
                actor=actor, batch_size=options["batch_size"], on_start=start, on_batch=batch
            )
        finally:
            if bar is not None:
                bar.close()
        if result.remaining:
            self.stdout.write(
                self.style.WARNING(
                    f"Moved {result.moved} values; {result.remaining} remain (edited meanwhile): "
                    "run it again."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Moved {result.moved} values; all are under data key v{result.primary_version}."
                )
            )

    def _rewrap(self, actor: Actor, options: dict[str, Any]) -> None:
        new_provider: KeyProvider
        if options["to_key_dir"] is not None:
            new_provider = FileKeyProvider(options["to_key_dir"])
            switch = f"SAFEWARD_KEY_PROVIDER=file and SAFEWARD_KEY_DIR={options['to_key_dir']}"
        else:
            variable = options["to_env"]
            new_provider = EnvKeyProvider(variable, os.environ.get(variable))
            switch = (
                "SAFEWARD_KEY_PROVIDER=env with the new KEK in $SAFEWARD_KEK "
                f"(or SAFEWARD_KEK_ENV_VAR={variable})"
            )
        count = keys_rewrap(actor=actor, new_provider=new_provider)
        self.stdout.write(
            self.style.SUCCESS(
                f"{count} keys are now wrapped by {new_provider.describe()} "
                f"(KEK {new_provider.fingerprint()})."
            )
        )
        self.stdout.write(
            f"Restart every SafeWard process with {switch}. Keep the old KEK until they all started "
            "(`safeward keys status` works under the new one); then destroy it."
        )

    def _seal(self, actor: Actor, options: dict[str, Any]) -> None:
        # Read from stdin, never from the command line (shell history, process list).
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise CommandError("Give the secret on standard input.")
        self.stdout.write(encrypt_secret(secret, purpose=options["purpose"]))

    def _retire(self, actor: Actor, options: dict[str, Any]) -> None:
        key = key_retire(actor=actor, version=options["key_version"], purpose=options["purpose"])
        self.stdout.write(
            self.style.SUCCESS(f"{key.purpose} key v{key.version} retired; its material is destroyed.")
        )

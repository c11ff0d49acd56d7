"""The `safeward` command: Django's management commands under SafeWard's name.
`safeward check` runs Django's deployment checks and SafeWard's own and exits
non-zero on any warning or error."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "safeward"
    if args[1:2] == ["check"] and len(args) == 2:
        args += ["--deploy", "--database", "default", "--fail-level", "WARNING"]
    execute_from_command_line(args)


if __name__ == "__main__":
    main()

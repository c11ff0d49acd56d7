"""`safeward ward add|list`: the wards and beds of clinical departments.

Wards are hospital structure, not patient data: an operator sets them up
once (and the demo seed does) through the gateway with a system actor, so
each change is audited."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.audit import context as audit_context
from safeward.clinical import forms, gateway
from safeward.clinical.types import Conflict, InvalidInput, SystemActor
from safeward.identity.selectors import department_codes

OPERATOR = SystemActor("cli")


def bed_labels(spec: str) -> list[str]:
    """ "1-12" → 01…12; "A,B,C" → A, B, C (safeward.clinical.forms.bed_labels)."""
    try:
        return forms.bed_labels(spec)
    except ValueError as error:
        raise CommandError(str(error)) from None


class Command(BaseCommand):
    help = "Wards and beds: `safeward ward add DEPARTMENT CODE NAME --beds 1-12`, `safeward ward list`."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{add,list}")
        add = actions.add_parser("add", help="Add a ward to a clinical department, or beds to a ward.")
        add.add_argument("department", help="The department's code, e.g. internal-medicine.")
        add.add_argument("code", help="The ward's short code, e.g. med-3.")
        add.add_argument("name", help='The ward\'s name, e.g. "Medicine ward 3".')
        add.add_argument("--beds", required=True, help='Bed labels: a range "1-12", a list "A,B", or both.')
        actions.add_parser("list", help="Every ward with its beds and how many are taken.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for ward in gateway.wards_list():
                taken = f"{ward.occupied}/{ward.beds} beds taken"
                self.stdout.write(f"{ward.code:<12} {ward.name:<32} {ward.department:<28} {taken}")
            return
        departments = {code: pk for pk, code in department_codes()}
        department = departments.get(options["department"])
        if department is None:
            known = ", ".join(sorted(departments)) or "none yet"
            raise CommandError(f"No department {options['department']!r}. Known: {known}.")
        token = audit_context.bind(audit_context.AuditContext(source="cli"))
        try:
            ward = gateway.ward_create(
                actor=OPERATOR,
                department_id=department,
                code=options["code"],
                name=options["name"],
                beds=bed_labels(options["beds"]),
            )
        except (InvalidInput, Conflict) as error:
            detail = "; ".join(error.errors.values()) if isinstance(error, InvalidInput) else str(error)
            raise CommandError(f"Not saved: {detail}") from None
        finally:
            audit_context.reset(token)
        self.stdout.write(f"Ward {ward.code} ({ward.name}, {ward.department}): {ward.beds} beds.")

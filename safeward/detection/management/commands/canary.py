"""`safeward canary`: decoy patient records that no legitimate workflow
touches; any access to one alerts at the highest severity.

    safeward canary list [--drills]
    safeward canary add PATIENT_ID --label "ward 3 decoy"
    safeward canary remove CANARY_ID

Register the decoy through the normal registration first (a plausible
synthetic person nobody treats), then mark it here by its patient id (shown
in the chart's address). Labels starting with "drill" are reserved for the
attack drills. Every change is audited as a configuration change."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _message(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items())
    return " ".join(error.messages)


class Command(BaseCommand):
    help = "List, add or remove canary (decoy) patient records."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        listing = sub.add_parser("list", help="the registered canaries")
        listing.add_argument("--drills", action="store_true", help="include the drills' canaries")
        add = sub.add_parser("add", help="mark an existing decoy patient as a canary")
        add.add_argument("patient_id")
        add.add_argument("--label", required=True, help="what the decoy is for (at most 100 characters)")
        remove = sub.add_parser("remove", help="stop treating a record as a canary")
        remove.add_argument("canary_id", type=int)

    def handle(self, *args: Any, verb: str, **options: Any) -> None:
        from safeward.detection import selectors, services

        try:
            if verb == "add":
                if options["label"].strip().lower().startswith(services.DRILL_CANARY_PREFIX):
                    raise CommandError("labels starting with 'drill' are reserved for the attack drills")
                canary = services.canary_register(
                    actor=None, patient_id=options["patient_id"], label=options["label"]
                )
                self.stdout.write(
                    f"canary {canary.pk} registered ({canary.label}); any access to it now alerts"
                )
            elif verb == "remove":
                services.canary_remove(actor=None, canary_id=options["canary_id"])
                self.stdout.write(f"canary {options['canary_id']} removed")
            else:
                canaries = list(selectors.canaries_list(include_drills=options["drills"]))
                for canary in canaries:
                    created = f"{canary.created_at:%Y-%m-%d %H:%M}"
                    self.stdout.write(f"{canary.pk:>6}  {canary.patient_id}  {created}  {canary.label}")
                self.stdout.write(f"{len(canaries)} canar{'y' if len(canaries) == 1 else 'ies'}")
        except ValidationError as error:
            raise CommandError(_message(error)) from None

"""`safeward vendors` — the vendor register from the command line.

check                         the daily sweep: lapse ended agreements (the request path already
                              refuses their credentials), record tacit renewals, remind owners at
                              90, 60 and 30 days before an end
list                          every vendor: status, risk, assessment, agreement, end, live credentials
terminate AGREEMENT_ID        terminate an agreement (--reason): its credentials end at once
renew AGREEMENT_ID            renew an express agreement (--end-date YYYY-MM-DD): its credentials
                              run to the new end
suspend VENDOR                suspend a vendor by name (--reason): every credential ends at once
questionnaire-send VENDOR     send the security questionnaire to a vendor contact (--name, --email,
                              --base-url of SafeWard, --days): prints the single-use link once
questionnaires                every questionnaire: vendor, status, score, tier, review (ADR 1213)"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from safeward import clock
from safeward.vendors import questionnaires, selectors, services


class Command(BaseCommand):
    help = (
        "The vendor register: the daily check, list, terminate an agreement, suspend a vendor, "
        "send and list security questionnaires."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("check", help="The daily sweep: lapses, tacit renewals, reminders.")
        commands.add_parser("list", help="List the vendors.")
        terminate = commands.add_parser("terminate", help="Terminate an agreement; its credentials end.")
        terminate.add_argument("agreement_id", type=int)
        terminate.add_argument("--reason", required=True)
        renew = commands.add_parser("renew", help="Renew an express agreement to a new last day.")
        renew.add_argument("agreement_id", type=int)
        renew.add_argument("--end-date", required=True, type=dt.date.fromisoformat, help="YYYY-MM-DD")
        suspend = commands.add_parser("suspend", help="Suspend a vendor; every credential ends.")
        suspend.add_argument("vendor", help="The vendor's name.")
        suspend.add_argument("--reason", required=True)
        send = commands.add_parser("questionnaire-send", help="Send the security questionnaire's link.")
        send.add_argument("vendor", help="The vendor's name.")
        send.add_argument("--name", required=True, help="The contact at the vendor.")
        send.add_argument("--email", required=True, help="Where the link is e-mailed.")
        send.add_argument(
            "--base-url", required=True, help="SafeWard's address, e.g. https://safeward.example"
        )
        send.add_argument(
            "--days", type=int, default=questionnaires.DEFAULT_DAYS, help="How long the link works."
        )
        commands.add_parser("questionnaires", help="List the security questionnaires.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "check":
                result = services.vendors_check()
                self.stdout.write(
                    f"{result.lapsed} agreement(s) lapsed, {result.renewed} renewed tacitly, "
                    f"{result.reminders} reminder(s) sent."
                )
            elif action == "list":
                self._list()
            elif action == "terminate":
                agreement = selectors.agreement_get(agreement_id=options["agreement_id"])
                if agreement is None:
                    raise CommandError(
                        "No such agreement: see `safeward vendors list` and the vendor's page."
                    )
                revocation = services.agreement_terminate(
                    actor=None, agreement=agreement, reason=options["reason"]
                )
                self.stdout.write(self._ended(f"Agreement {agreement.reference} terminated", revocation))
            elif action == "renew":
                agreement = selectors.agreement_get(agreement_id=options["agreement_id"])
                if agreement is None:
                    raise CommandError("No such agreement: see `safeward vendors list`.")
                renewed = services.agreement_renew(
                    actor=None, agreement=agreement, end_date=options["end_date"]
                )
                self.stdout.write(
                    f"Agreement {renewed.reference} renewed: in force until "
                    f"{renewed.current_end_at.isoformat()}; its credentials run to the new end."
                )
            elif action == "suspend":
                vendor = selectors.vendor_by_name(name=options["vendor"])
                if vendor is None:
                    raise CommandError("No such vendor: see `safeward vendors list`.")
                revocation = services.vendor_suspend(
                    actor=None, vendor_id=vendor.pk, reason=options["reason"]
                )
                self.stdout.write(self._ended(f"Vendor {vendor.name} suspended", revocation))
            elif action == "questionnaire-send":
                self._send(options)
            elif action == "questionnaires":
                self._questionnaires()
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None

    @staticmethod
    def _ended(what: str, revocation: services.Revocation) -> str:
        r = revocation
        return (
            f"{what}: {r.credentials} credential(s) ended, {r.accounts_disabled} account(s) disabled, "
            f"{r.sessions_ended} session(s) ended, {r.tokens_revoked} token(s) revoked, "
            f"{r.clients_disabled} OAuth client(s) disabled, {r.paths_to_remove} "
            "remote-support path(s) or key(s) to remove at their systems."
        )

    def _send(self, options: dict[str, Any]) -> None:
        vendor = selectors.vendor_by_name(name=options["vendor"])
        if vendor is None:
            raise CommandError("No such vendor: see `safeward vendors list`.")
        base = str(options["base_url"]).rstrip("/")
        if not base.startswith(("https://", "http://")) or len(base) > 200:
            raise CommandError("--base-url is SafeWard's address, e.g. https://safeward.example")
        sent = questionnaires.questionnaire_send(
            actor=None,
            vendor=vendor,
            contact_name=options["name"],
            contact_email=options["email"],
            days=options["days"],
            link_for=lambda token: base + reverse("vendors:questionnaire_answer", args=[token]),
        )
        self.stdout.write(
            f"Questionnaire {sent.questionnaire.pk} sent to {sent.questionnaire.contact_email}; "
            f"the link works once, until {sent.questionnaire.expires_at.isoformat()} "
            f"(shown only now):\n{sent.link}"
        )

    def _questionnaires(self) -> None:
        rows = list(selectors.questionnaires_list())
        if not rows:
            self.stdout.write("No questionnaire sent.")
            return
        now = clock.now()
        for q in rows:
            score = f"{q.score}%" if q.score is not None else "-"
            reviewed = q.reviewed_by.username if q.reviewed_by else "-"
            self.stdout.write(
                f"{q.pk:<5} {q.vendor.name:<32} {questionnaires.link_state(q, now):<8} {q.status:<10} "
                f"score {score:<5} tier {q.tier or '-':<8} sent {q.sent_at.date().isoformat()} "
                f"reviewed {reviewed}"
            )

    def _list(self) -> None:
        rows = selectors.vendor_summaries()
        if not rows:
            self.stdout.write("No vendor registered.")
            return
        for row in rows:
            ends = row.ends_on.isoformat() if row.ends_on else "-"
            self.stdout.write(
                f"{row.vendor.name:<32} {row.vendor.status:<10} risk {row.risk:<8} "
                f"assessment {row.assessment_state:<7} "
                f"agreement {row.agreement_status:<9} ends {ends:<10} live credentials {row.live_credentials}"
            )

"""`safeward risks` — the risk register from the command line.

list [--overdue]                      risks by inherent score, with residual and review date
show ID                               one risk and its links
heatmap [--residual]                  the 5x5 grid of open risks (likelihood rows, impact columns)
review ID --next YYYY-MM-DD --as U    record that the risk was reviewed today"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.assessments import risk_selectors, risk_services
from safeward.identity.selectors import user_by_username


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "The risk register: list, show, heat map, record reviews."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="Risks by inherent score.")
        listing.add_argument("--overdue", action="store_true", help="Only open risks past their review date.")
        show = actions.add_parser("show", help="One risk and its links.")
        show.add_argument("risk_id", type=int)
        heat = actions.add_parser("heatmap", help="The 5x5 grid of open risks.")
        heat.add_argument("--residual", action="store_true", help="After treatment.")
        review = actions.add_parser("review", help="Record a review today and the next review date.")
        review.add_argument("risk_id", type=int)
        review.add_argument("--next", dest="next_review", required=True, help="YYYY-MM-DD")
        review.add_argument("--as", dest="username", required=True, help="Your SafeWard username (audited).")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "_" + options["action"])(options)

    def _list(self, options: dict[str, Any]) -> None:
        today = risk_selectors.today()
        risks = risk_selectors.risks_list(
            status="open" if options["overdue"] else "", overdue_on=today if options["overdue"] else None
        )
        for risk in risks:
            late = " OVERDUE" if risk.status == "open" and risk.review_due < today else ""
            self.stdout.write(
                f"{risk.pk}\t{risk.inherent_score} {risk.inherent_level}\t{risk.treatment}\t"
                f"{risk.residual_score} {risk.residual_level}\t{risk.review_due}{late}\t"
                f"{risk.status}\t{risk.title}"
            )
        self.stdout.write(f"{len(risks)} risk(s).")

    def _show(self, options: dict[str, Any]) -> None:
        risk = risk_selectors.risk_get(risk_id=options["risk_id"])
        if risk is None:
            raise CommandError(f"no risk {options['risk_id']}; `safeward risks list` shows them.")
        names = risk_selectors.asset_names(asset_ids=risk.asset_ids)
        lines = [
            risk.title,
            f"threat: {risk.get_threat_source_display()}: {risk.threat_event}",
            f"vulnerability: {risk.vulnerability}",
            f"inherent: {risk.likelihood} x {risk.impact} = {risk.inherent_score} ({risk.inherent_level})",
            f"treatment: {risk.treatment}: {risk.treatment_plan}",
            f"residual: {risk.residual_likelihood} x {risk.residual_impact} = {risk.residual_score} "
            f"({risk.residual_level})",
            f"owner: {risk.owner.username}; next review {risk.review_due}; {risk.status}",
            "assets: " + (", ".join(names.get(pk, f"asset {pk}") for pk in risk.asset_ids) or "—"),
            "controls: " + (", ".join(risk.control_ids) or "—"),
            "findings: "
            + (", ".join(f"#{f.pk} {f.title}" for f in risk_selectors.risk_findings(risk=risk)) or "—"),
        ]
        for line in lines:
            self.stdout.write(line)

    def _heatmap(self, options: dict[str, Any]) -> None:
        grid = risk_selectors.heat_map(risks=risk_selectors.risks_list(), residual=options["residual"])
        self.stdout.write("likelihood \\ impact   1   2   3   4   5")
        for row in grid:
            cells = "".join(f"{cell.count or '.':>4}" for cell in row)
            self.stdout.write(f"{row[0].likelihood:>19} {cells}")

    def _review(self, options: dict[str, Any]) -> None:
        actor = user_by_username(username=options["username"])
        if actor is None or not actor.is_active:
            raise CommandError(f"no active SafeWard account {options['username']!r}; give yours with --as.")
        try:
            risk = risk_services.risk_review(
                actor=actor, risk_id=options["risk_id"], next_review_due=_date(options["next_review"])
            )
        except risk_services.RiskError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Risk {risk.pk} reviewed; next review {risk.review_due}.")

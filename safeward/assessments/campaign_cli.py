"""`safeward assessments campaign ...` (the `campaign` part of the `assessments`
command; `catalog` is the catalogs' part).

campaign list                         campaigns, one a line
campaign show ID                      progress and the per-clause table
campaign open --framework K --year Y --name N --assessor U --reviewer U [--entry REF ...] --as U
campaign compare ID                   the year-over-year comparison (per clause, then per entry)
campaign findings [--overdue]         findings with owner, due date and status
campaign maturity FRAMEWORK           the latest signed-off maturity per entry"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from safeward.assessments import campaign_selectors, campaign_services
from safeward.compliance import FRAMEWORKS
from safeward.identity.models import User
from safeward.identity.selectors import user_by_username


def add_parser(commands: Any) -> None:
    """Add `campaign` and its actions to the command's subparsers."""
    campaign = commands.add_parser("campaign", help="Assessment campaigns.")
    actions = campaign.add_subparsers(dest="campaign_action", required=True)
    actions.add_parser("list", help="List the campaigns.")
    show = actions.add_parser("show", help="A campaign's progress and per-clause table.")
    show.add_argument("campaign_id", type=int)
    opening = actions.add_parser("open", help="Open a campaign over a framework or chosen entries.")
    opening.add_argument("--framework", required=True, choices=sorted(FRAMEWORKS))
    opening.add_argument("--year", required=True, type=int)
    opening.add_argument("--name", required=True)
    opening.add_argument("--assessor", required=True, help="The assessor's username.")
    opening.add_argument("--reviewer", required=True, help="The reviewer's username (another person).")
    opening.add_argument("--entry", action="append", default=[], help="A catalog entry ref; repeat.")
    opening.add_argument("--as", dest="username", required=True, help="Your SafeWard username (audited).")
    compare = actions.add_parser("compare", help="Year over year against the previous signed-off campaign.")
    compare.add_argument("campaign_id", type=int)
    findings = actions.add_parser("findings", help="Findings with owner, due date and status.")
    findings.add_argument("--overdue", action="store_true", help="Only open findings past their due date.")
    maturity = actions.add_parser("maturity", help="The latest signed-off maturity per entry.")
    maturity.add_argument("framework", choices=sorted(FRAMEWORKS))


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    ACTIONS[options["campaign_action"]](command, options)


def _user(username: str, what: str) -> User:
    user = user_by_username(username=username)
    if user is None or not user.is_active:
        raise CommandError(f"no active SafeWard account {username!r} for {what}.")
    return user


def _campaign(campaign_id: int) -> Any:
    campaign = campaign_selectors.campaign_get(campaign_id=campaign_id)
    if campaign is None:
        raise CommandError(f"no campaign {campaign_id}; `safeward assessments campaign list` shows them.")
    return campaign


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _list(command: BaseCommand, options: dict[str, Any]) -> None:
    campaigns = list(campaign_selectors.campaigns_list())
    for campaign in campaigns:
        command.stdout.write(
            f"{campaign.pk}\t{campaign.framework}\t{campaign.year}\t{campaign.status}\t"
            f"{campaign.answered_count}/{campaign.question_count}\t{campaign.name}"  # type: ignore[attr-defined]
        )
    command.stdout.write(f"{len(campaigns)} campaign(s).")


def _show(command: BaseCommand, options: dict[str, Any]) -> None:
    campaign = _campaign(options["campaign_id"])
    progress = campaign_selectors.campaign_progress(campaign=campaign)
    command.stdout.write(
        f"{campaign.name} ({campaign.framework} {campaign.year}): {campaign.get_status_display()}; "
        f"assessor {campaign.assessor.username}, reviewer {campaign.reviewer.username}"
    )
    command.stdout.write(
        f"{progress.answered} of {progress.total} answered, mean maturity {_score(progress.mean)}"
    )
    for clause in campaign_selectors.clause_scores(campaign=campaign):
        command.stdout.write(
            f"  {clause.clause_ref}\t{clause.answered}/{clause.questions}\t{_score(clause.mean)}\t"
            f"{clause.clause_title}"
        )


def _open(command: BaseCommand, options: dict[str, Any]) -> None:
    actor = _user(options["username"], "--as")
    try:
        campaign = campaign_services.campaign_create(
            actor=actor,
            name=options["name"],
            framework=options["framework"],
            year=options["year"],
            assessor_id=_user(options["assessor"], "--assessor").pk,
            reviewer_id=_user(options["reviewer"], "--reviewer").pk,
            entry_refs=options["entry"],
        )
    except campaign_services.CampaignError as error:
        raise CommandError(str(error)) from None
    command.stdout.write(f"Campaign {campaign.pk} opened with {campaign.questions.count()} question(s).")


def _compare(command: BaseCommand, options: dict[str, Any]) -> None:
    yoy = campaign_selectors.year_over_year(campaign=_campaign(options["campaign_id"]))
    if yoy.previous is None:
        command.stdout.write("No earlier signed-off campaign of this framework to compare with.")
        return
    command.stdout.write(f"{yoy.campaign.year} against {yoy.previous.year} (campaign {yoy.previous.pk}):")
    for title, rows in (("clause", yoy.clauses), ("entry", yoy.entries)):
        command.stdout.write(f"by {title}:")
        for row in rows:
            delta = "—" if row.delta is None else f"{row.delta:+g}"
            command.stdout.write(f"  {row.ref}\t{_score(row.previous)}\t{_score(row.current)}\t{delta}")


def _findings(command: BaseCommand, options: dict[str, Any]) -> None:
    today = campaign_selectors.today()
    findings = list(campaign_selectors.findings_list(overdue_on=today if options["overdue"] else None))
    for finding in findings:
        late = " OVERDUE" if finding.status != "closed" and finding.due_on < today else ""
        command.stdout.write(
            f"{finding.pk}\t{finding.question.entry_ref}\t{finding.severity}\t{finding.owner.username}\t"
            f"{finding.due_on}{late}\t{finding.status}\t{finding.title}"
        )
    command.stdout.write(f"{len(findings)} finding(s).")


def _maturity(command: BaseCommand, options: dict[str, Any]) -> None:
    maturity = campaign_selectors.latest_maturity(options["framework"])
    for ref, value in maturity.items():
        command.stdout.write(f"{ref}\t{value}")
    command.stdout.write(
        f"{len(maturity)} entr{'y' if len(maturity) == 1 else 'ies'} from the latest sign-off."
    )


ACTIONS = {
    "list": _list,
    "show": _show,
    "open": _open,
    "compare": _compare,
    "findings": _findings,
    "maturity": _maturity,
}

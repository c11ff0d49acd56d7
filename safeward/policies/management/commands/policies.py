"""`safeward policies` — the policy library from the command line.

list                         every document: revision in force, owner, next review
show CODE                    one document: requirements, revisions, hashes
publish-file CODE FILE       a new revision from a text file, written by --author and submitted;
                             with --approver (a second person) approved and published too
acknowledgements CODE        who acknowledged the revision in force, and who has not
overdue [--sweep]            documents past their review date; --sweep records them for
                             detection (`policy_review_overdue` alerts, naming the owner)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.identity.models import User
from safeward.identity.selectors import user_by_username
from safeward.policies import selectors, services, text
from safeward.policies.models import PolicyDocument

MAX_FILE = text.MAX_BODY * 4  # bytes: UTF-8 of the longest text allowed


class Command(BaseCommand):
    help = (
        "The policy library: list, show, publish a revision from a file, acknowledgements, overdue reviews."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("list", help="List the documents.")
        show = commands.add_parser("show", help="Show one document and its revisions.")
        show.add_argument("code")
        publish = commands.add_parser(
            "publish-file", help="Draft a revision from a text file; with --approver, approve and publish it."
        )
        publish.add_argument("code")
        publish.add_argument("file", type=Path)
        publish.add_argument("--author", required=True, help="The username who wrote the revision.")
        publish.add_argument(
            "--approver",
            help="A second person (never the author) who approved it: the revision is then published.",
        )
        publish.add_argument("--summary", default="", help="What changed.")
        acks = commands.add_parser("acknowledgements", help="Who acknowledged the revision in force.")
        acks.add_argument("code")
        overdue = commands.add_parser("overdue", help="Documents past their review date.")
        overdue.add_argument("--sweep", action="store_true", help="Record them for detection to alert on.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
        elif action == "show":
            self._show(self._document(options["code"]))
        elif action == "publish-file":
            self._publish(options)
        elif action == "acknowledgements":
            self._acknowledgements(self._document(options["code"]))
        else:
            self._overdue(sweep=options["sweep"])

    def _document(self, code: str) -> PolicyDocument:
        document = selectors.document_by_code(code=code)
        if document is None:
            raise CommandError(f"no document with the code {code!r}; `safeward policies list` shows them.")
        return document

    def _account(self, username: str, what: str) -> User:
        user = user_by_username(username=username)
        if user is None or not user.is_active:
            raise CommandError(f"no active SafeWard account {username!r} for {what}.")
        return user

    def _list(self) -> None:
        documents = list(selectors.documents_list(include_unpublished=True))
        overdue = {d.pk for d in selectors.documents_review_overdue()}
        for d in documents:
            revision = f"r{d.current_revision.number}" if d.current_revision else "unpublished"
            due = d.next_review_due.date().isoformat() if d.next_review_due else "-"
            flag = " OVERDUE" if d.pk in overdue else (" retired" if d.retired_at else "")
            self.stdout.write(
                f"{d.code}\t{d.kind}\t{revision}\t{d.owner.username}\tnext review {due}{flag}\t{d.title}"
            )
        self.stdout.write(f"{len(documents)} document(s), {len(overdue)} review(s) overdue.")

    def _show(self, document: PolicyDocument) -> None:
        roles, positions = selectors.document_requirements(document=document)
        self.stdout.write(
            f"{document.title} ({document.code}, {document.kind}); owner {document.owner.username}"
        )
        self.stdout.write(
            f"review every {document.review_period_days} days; next due {document.next_review_due or '-'}"
        )
        self.stdout.write(
            f"required for roles: {', '.join(roles) or '-'}; positions: {', '.join(positions) or '-'}"
        )
        for r in selectors.document_revisions(document=document, include_unpublished=True):
            approver = r.approved_by.username if r.approved_by else "-"
            self.stdout.write(
                f"  r{r.number}\t{r.state}\tby {r.author.username}, approved by {approver}"
                + (f"\tsha256 {r.content_sha256}" if r.content_sha256 else "")
            )

    def _publish(self, options: dict[str, Any]) -> None:
        document = self._document(options["code"])
        author = self._account(options["author"], "--author")
        approver = self._account(options["approver"], "--approver") if options["approver"] else None
        if approver is not None and approver.pk == author.pk:
            raise CommandError("the approver must be a second person, not the author.")
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        if len(data) > MAX_FILE:
            raise CommandError(f"{path} is too large for a policy text.")
        try:
            body = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text.") from None
        try:
            revision = services.revision_draft(
                actor=author, document_id=document.pk, body=body, change_summary=options["summary"]
            )
            services.revision_submit(actor=author, revision_id=revision.pk)
            if approver is None:
                self.stdout.write(
                    f"revision {revision.number} of {document.code} submitted for review;"
                    " a second person approves it on its page, then it can be published."
                )
                return
            services.revision_approve(actor=approver, revision_id=revision.pk)
            revision = services.revision_publish(actor=approver, revision_id=revision.pk)
        except services.PolicyError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"revision {revision.number} of {document.code} published;"
            f" text SHA-256 {revision.content_sha256}, PDF SHA-256 {revision.pdf_sha256}."
        )

    def _acknowledgements(self, document: PolicyDocument) -> None:
        if document.current_revision_id is None:
            raise CommandError(f"{document.code} has no published revision.")
        roles, positions = selectors.document_requirements(document=document)
        people = list(selectors.audience(roles=roles, positions=positions))
        done = {
            a.user_id: (a.user.username, a.acknowledged_at)
            for a in selectors.acknowledgements_list(revision_id=document.current_revision_id)
        }
        revision = document.current_revision
        assert revision is not None
        self.stdout.write(f"{document.code} r{revision.number}:")
        for username, at in done.values():
            self.stdout.write(f"  acknowledged\t{at:%Y-%m-%d %H:%M}\t{username}")
        missing = [p for p in people if p.pk not in done]
        for person in missing:
            self.stdout.write(f"  outstanding\t{person.username}")
        self.stdout.write(
            f"{len(done)} acknowledged; {len(missing)} of {len(people)} required still outstanding."
        )

    def _overdue(self, *, sweep: bool) -> None:
        overdue = selectors.documents_review_overdue()
        for d in overdue:
            due = d.next_review_due
            self.stdout.write(
                f"{d.code}\tdue {due.date() if due else '-'}\towner {d.owner.username}\t{d.title}"
            )
        if sweep:
            recorded = services.policies_sweep_overdue()
            self.stdout.write(
                f"{recorded} overdue review(s) recorded"
                + ("; `safeward detect` raises their alerts." if recorded else ".")
            )
        else:
            self.stdout.write(f"{len(overdue)} review(s) overdue.")

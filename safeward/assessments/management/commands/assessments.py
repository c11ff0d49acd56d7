"""`safeward assessments` — security assessments and compliance from the command line.

catalog list          the frameworks, with their source and entry counts
catalog show REF      one entry (`hipaa:164.312(d)`, `hicp:3.M.A`) with its text and mappings
catalog validate      check every catalog and mapping file; exit 1 listing each problem
campaign ...          assessment campaigns (safeward/assessments/campaign_cli.py)"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.assessments import campaign_cli
from safeward.assessments.catalogs import DIRECTORY, Catalog, CatalogError, catalog, load


class Command(BaseCommand):
    help = "Security assessments and compliance: the control catalogs and assessment campaigns."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        catalogs = commands.add_parser(
            "catalog", help="The control catalogs (HIPAA, HICP, ISO 27001, CSF, ONC)."
        )
        catalog_commands = catalogs.add_subparsers(dest="catalog_action", required=True)
        catalog_commands.add_parser("list", help="Frameworks with their source and entry counts.")
        show = catalog_commands.add_parser("show", help="One entry with its text and its mappings.")
        show.add_argument("ref", help="<framework>:<entry id>, e.g. hipaa:164.312(d) or hicp:3.M.A")
        catalog_commands.add_parser("validate", help="Check every catalog and mapping file.")
        campaign_cli.add_parser(commands)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "campaign":
            campaign_cli.handle(self, options)
            return
        action = options["catalog_action"]
        if action == "validate":
            self._validate()
            return
        try:
            loaded = catalog()
        except CatalogError as error:
            raise CommandError(f"{error}\nRun `safeward assessments catalog validate` for details.") from None
        if action == "list":
            self._list(loaded)
        else:
            self._show(loaded, options["ref"])

    def _validate(self) -> None:
        try:
            loaded = load(DIRECTORY)
        except CatalogError as error:
            for line in error.errors:
                self.stderr.write(line)
            raise CommandError(f"{len(error.errors)} problem(s) in the catalogs under {DIRECTORY}.") from None
        entries = sum(len(framework.entries) for framework in loaded.frameworks.values())
        self.stdout.write(
            f"{len(loaded.frameworks)} catalog(s), {entries} entries, {len(loaded.mappings)} mapping(s) "
            f"in {len(loaded.mapping_sets)} file(s): valid."
        )

    def _list(self, loaded: Catalog) -> None:
        for framework in loaded.frameworks.values():
            kinds = Counter(entry.kind for entry in framework.entries)
            counts = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
            self.stdout.write(f"{framework.key}\t{framework.name} ({framework.version})")
            self.stdout.write(
                f"\t{counts}; {len(framework.clauses())} row(s) per clause ({framework.clause_kind})"
            )
            self.stdout.write(f"\tsource: {framework.source['title']} ({framework.source['date']})")
        for mapping_set in loaded.mapping_sets.values():
            pairs = sum(1 for m in loaded.mappings if m.provenance == mapping_set.key)
            derivation = mapping_set.provenance["derivation"]
            partial = ", partial" if mapping_set.provenance["partial"] else ""
            self.stdout.write(f"mapping {mapping_set.key}\t{pairs} pair(s) ({derivation}{partial})")

    def _show(self, loaded: Catalog, ref: str) -> None:
        try:
            entry = loaded.entry(ref)
        except KeyError:
            raise CommandError(
                f"no catalog entry {ref!r}; write <framework>:<entry id> with a framework in "
                f"{', '.join(loaded.frameworks)} (e.g. hipaa:164.312(d))."
            ) from None
        framework = loaded.frameworks[entry.framework]
        self.stdout.write(f"{entry.ref}\t{entry.title}")
        self.stdout.write(f"kind: {entry.kind}" + (f" ({entry.requirement})" if entry.requirement else ""))
        if entry.parent:
            self.stdout.write(f"parent: {entry.parent}\t{loaded.entry(entry.parent).title}")
        try:
            clause = framework.clause_of(entry.ref)
            self.stdout.write(f"{framework.clause_kind}: {clause.ref}\t{clause.title}")
        except KeyError:
            pass
        for child in framework.children(entry.ref):
            self.stdout.write(f"  {child.ref}\t{child.title}")
        if entry.text:
            self.stdout.write(entry.text)
        for reference in entry.references:
            self.stdout.write(f"cites {reference}\t{loaded.entry(reference).title}")
        for mapping in loaded.mappings_of(entry.ref):
            other = mapping.target if mapping.source == entry.ref else mapping.source
            arrow = "->" if mapping.source == entry.ref else "<-"
            self.stdout.write(f"{arrow} {other}\t{loaded.entry(other).title}\t[{mapping.provenance}]")

"""`safeward facilities` — physical security from the command line.

import-badges FILE                 door events from CSV or JSON, all or nothing
                                   (row errors with their numbers), then the badge rules
syslog [--port N] [--protocol udp|tcp] [--host H] [--seconds S]
                                   listen for door controllers (line format in
                                   safeward/facilities/importer.py)
overstays                          raise alerts for visitors past their expected end
dispose DEVICE_ID --by USERNAME [--pickup P]
                                   let a device leave: refused without a validated
                                   certificate of sanitization
certificate-pdf ID OUT             write the printable certificate"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.facilities import importer, selectors, services
from safeward.identity.errors import NotPermitted
from safeward.identity.selectors import user_by_username


class Command(BaseCommand):
    help = "Physical security: import door events, the syslog listener, overstays, disposal."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        imp = commands.add_parser("import-badges", help="Import door events from a CSV or JSON file.")
        imp.add_argument("file", type=Path)
        sys_ = commands.add_parser("syslog", help="Listen for door controllers' syslog messages.")
        sys_.add_argument("--host", default="127.0.0.1")
        sys_.add_argument("--port", type=int, default=5514)
        sys_.add_argument("--protocol", choices=["udp", "tcp"], default="udp")
        sys_.add_argument("--seconds", type=float, default=None, help="Stop after this long (default: run).")
        commands.add_parser("overstays", help="Alert on visitors past their expected end.")
        commands.add_parser(
            "chart-sweep",
            help="Alert on charts opened in secure areas without a badge-in (run every few minutes).",
        )
        place = commands.add_parser(
            "place-workstation", help="Place an inventory device inside a secure area."
        )
        place.add_argument("device_id", type=int)
        place.add_argument("area", help="The area's code.")
        place.add_argument("--by", required=True, help="The username recording the placement.")
        dispose = commands.add_parser("dispose", help="Let a device leave the hospital.")
        dispose.add_argument("device_id", type=int)
        dispose.add_argument("--by", required=True, help="The username recording the disposal.")
        dispose.add_argument("--pickup", default="")
        pdf = commands.add_parser("certificate-pdf", help="Write a certificate of sanitization as PDF.")
        pdf.add_argument("certificate_id", type=int)
        pdf.add_argument("out", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "import-badges":
            self._import(options["file"])
        elif action == "syslog":
            self._syslog(options)
        elif action == "overstays":
            count = services.visitors_overstay_sweep()
            self.stdout.write(f"{count} overstay alert(s) raised or grown.")
        elif action == "chart-sweep":
            count = services.chart_access_sweep()
            self.stdout.write(f"{count} chart-access alert(s) raised or grown.")
        elif action == "place-workstation":
            self._place(options)
        elif action == "dispose":
            user = user_by_username(username=options["by"])
            if user is None:
                raise CommandError(f"No user {options['by']!r}.")
            try:
                certificate = services.device_dispose_request(
                    actor=user, device_id=options["device_id"], pickup=options["pickup"]
                )
            except (services.FacilityError, NotPermitted) as error:
                raise CommandError(f"Refused: {error}") from None
            self.stdout.write(
                f"Device {options['device_id']} left the hospital (certificate {certificate.pk})."
            )
        elif action == "certificate-pdf":
            from django.template.loader import render_to_string
            from weasyprint import HTML

            found = selectors.certificate_get(certificate_id=options["certificate_id"])
            if found is None:
                raise CommandError("No such certificate.")
            html = render_to_string("facilities/certificate_pdf.html", {"c": found})
            options["out"].write_bytes(HTML(string=html).write_pdf())
            self.stdout.write(f"Wrote {options['out']}.")

    def _place(self, options: dict[str, Any]) -> None:
        user = user_by_username(username=options["by"])
        if user is None:
            raise CommandError(f"No user {options['by']!r}.")
        area = selectors.area_by_code(code=options["area"])
        if area is None:
            raise CommandError(f"No area with the code {options['area'][:40]!r}.")
        try:
            services.workstation_place(actor=user, device_id=options["device_id"], area=area)
        except (services.FacilityError, NotPermitted) as error:
            raise CommandError(f"Refused: {error}") from None
        self.stdout.write(f"Device {options['device_id']} placed in {area.code}.")

    def _import(self, path: Path) -> None:
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        if path.stat().st_size > importer.MAX_BYTES:
            raise CommandError(f"{path} is larger than {importer.MAX_BYTES // (1024 * 1024)} MiB; split it.")
        self.stderr.write(f"Reading {path.name}…")
        try:
            rows, first = importer.rows_from_bytes(path.read_bytes(), name=path.name)
            self.stderr.write(f"Checking and importing {len(rows)} rows…")
            result = services.events_ingest(
                actor=None, rows=rows, source=f"file:{path.name[:30]}", first_row=first
            )
        except services.ImportRejected as rejected:
            for error in rejected.errors[:50]:
                self.stderr.write(error)
            more = len(rejected.errors) - 50
            if more > 0:
                self.stderr.write(f"… and {more} more.")
            raise CommandError(f"{rejected} Fix the rows and run the import again.") from None
        self.stdout.write(
            f"Imported {result.events} door events ({result.duplicates} already stored); "
            f"{result.alerts} alert(s) raised or grown."
        )

    def _syslog(self, options: dict[str, Any]) -> None:
        from safeward.facilities.syslog import Listener

        try:
            listener = Listener(host=options["host"], port=options["port"], protocol=options["protocol"])
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {error.strerror}"
            ) from None
        self.stderr.write(f"Listening on {options['protocol']}://{listener.address[0]}:{listener.address[1]}")
        try:
            stats = listener.serve(seconds=options["seconds"])
        except KeyboardInterrupt:
            stats = listener.stats
            listener.flush()
        finally:
            listener.close()
        self.stdout.write(
            f"Received {stats.received} lines: {stats.ingested} door events ingested, "
            f"{stats.rejected} rejected, {stats.alerts} alert(s)."
        )
        sys.stdout.flush()

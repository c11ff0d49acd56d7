"""`safeward detect`: run the detection rules over the audit trail.

    safeward detect              process what has committed, then exit
    safeward detect --follow     keep following the trail (the production worker)
    safeward detect --status     where the worker is and how far behind

Only one `--follow` worker runs at a time (PostgreSQL advisory lock); a
second one exits with a message. SIGTERM/SIGINT finish the current batch
and stop (a SIGKILL is safe too: each batch commits with the cursor)."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the detection rules over the audit trail (once, or --follow)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--follow", action="store_true", help="keep following the trail")
        parser.add_argument("--once", action="store_true", help="one pass over what has committed (default)")
        parser.add_argument("--batch", type=int, default=None, help="events per batch (default 2000)")
        parser.add_argument(
            "--interval", type=float, default=0.2, help="seconds between polls with --follow (default 0.2)"
        )
        parser.add_argument("--status", action="store_true", help="print the worker's position and lag")

    def handle(self, *args: Any, **options: Any) -> None:
        from safeward.detection.worker import follow_lock_try, process_pending

        if options["status"]:
            self._status()
            return
        size = options["batch"]
        if size is not None and size < 1:
            raise CommandError("--batch must be at least 1")
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive")
        if options["follow"] and options["once"]:
            raise CommandError("--follow and --once exclude each other")
        if not options["follow"]:
            started = time.monotonic()
            result = process_pending(size=size)
            self.stdout.write(
                f"processed {result.events} events in {result.batches} batches "
                f"({time.monotonic() - started:.1f} s): {result.alerts_created} new alerts, "
                f"{result.alerts_grown} grown, {result.reviews} accesses queued for review"
            )
            return
        if not follow_lock_try():
            raise CommandError("another `safeward detect --follow` is running; only one worker at a time")
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("detection worker following the audit trail")
        self.stdout.flush()
        while not stopping:
            # One batch at a time, so a stop request is seen between batches.
            result = process_pending(size=size, max_batches=1)
            if result.alerts_created or result.alerts_grown:
                self.stdout.write(
                    f"{result.events} events: {result.alerts_created} new alerts, {result.alerts_grown} grown"
                )
                self.stdout.flush()
            if result.events == 0:
                time.sleep(options["interval"])
        self.stdout.write("detection worker stopped")

    def _status(self) -> None:
        from safeward.detection.selectors import worker_status

        status = worker_status()
        lag = f"{status.lag.total_seconds():.1f} s" if status.lag is not None else "none"
        self.stdout.write(
            f"watermark {status.watermark}, {status.pending_ranges} pending ranges, "
            f"{status.processed} events processed, lag {lag}"
        )

"""`safeward notify`: deliver queued alert notifications (e-mail, webhook,
syslog) from the outbox, once or with `--follow` as a long-lived process next
to the detection worker. See docs/detection-operations.md."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from safeward.incidents import notifications


class Command(BaseCommand):
    help = "Deliver queued alert notifications (e-mail, signed webhook, syslog)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--follow", action="store_true", help="keep delivering every --interval seconds")
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--limit", type=int, default=100, help="most deliveries per round")

    def handle(self, *args: Any, follow: bool, interval: float, limit: int, **options: Any) -> None:
        config = notifications.notify_config()
        notifiers = notifications.notifiers_from_config(config)
        if not notifiers:
            self.stdout.write(
                "no notification channel is configured (SAFEWARD_ALERT_EMAIL_TO, "
                "SAFEWARD_ALERT_WEBHOOK_URL, SAFEWARD_ALERT_SYSLOG_HOST)"
            )
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        if follow:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        while True:
            report = notifications.notifications_deliver(notifiers=notifiers, limit=limit)
            if not follow or report.sent or report.retrying or report.failed:
                self.stdout.write(f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}")
            if not follow or stopping:
                return
            time.sleep(interval)

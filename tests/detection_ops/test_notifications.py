"""Alert notifications: the outbox is written when the core raises an alert;
e-mail (locmem), the HMAC-signed webhook (verified with the documented
scheme against a real HTTP receiver on loopback) and syslog/CEF; a failing
channel neither loses the alert nor blocks the others."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.audit.export import MemorySink
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.detection.models import Alert
from safeward.detection.services import Finding, alerts_raise
from safeward.incidents import notifications
from safeward.incidents.models import NotificationDelivery
from tests.detection_ops.factories import alert_about

pytestmark = pytest.mark.django_db
SECRET = "test-webhook-secret-0123456789abcdef"


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    server.status = 204  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def channels(settings, receiver):
    settings.SAFEWARD_ALERT_EMAIL_TO = ["soc@hospital.test"]
    settings.SAFEWARD_ALERT_WEBHOOK_URL = f"http://127.0.0.1:{receiver.server_port}/hook"
    settings.SAFEWARD_ALERT_WEBHOOK_SECRET = SECRET
    settings.SAFEWARD_ALERT_SYSLOG_HOST = "127.0.0.1"
    settings.SAFEWARD_ALERT_SYSLOG_TLS = "false"
    settings.SAFEWARD_BASE_URL = "https://safeward.hospital.test"
    return settings


def _notifiers(sink: MemorySink) -> dict[str, notifications.Notifier]:
    config = notifications.notify_config()
    built = notifications.notifiers_from_config(config)
    built["syslog"] = notifications.SyslogNotifier(sink=sink, hostname="safeward-test")
    return built


def test_raising_an_alert_queues_one_delivery_per_channel(
    channels, make_user, django_capture_on_commit_callbacks
):
    suspect = make_user("nurse")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = audit_record(action=Action.READ, actor=suspect, resource_type="Patient", patient_id="pt-1")
        results = alerts_raise(
            [
                Finding(
                    rule="vip_access",
                    severity="high",
                    title=f"VIP record opened by {suspect.username}",
                    subject=f"user:{suspect.pk}",
                    evidence=[(event.pk, event.occurred_at)],
                    subject_user_id=suspect.pk,
                    subject_username=suspect.username,
                    patient_id="pt-1",
                )
            ]
        )
    ((alert_id, created),) = results
    assert created
    deliveries = NotificationDelivery.objects.filter(alert_id=alert_id)
    assert sorted(deliveries.values_list("channel", flat=True)) == ["email", "syslog", "webhook"]
    email = deliveries.get(channel="email").payload
    assert "patient_id" not in email
    assert email["link"] == f"https://safeward.hospital.test/detection/alerts/{alert_id}/"
    # A repeat grouped into the open alert does not notify again.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = audit_record(action=Action.READ, actor=suspect, resource_type="Patient", patient_id="pt-1")
        alerts_raise(
            [
                Finding(
                    rule="vip_access",
                    severity="high",
                    title="again",
                    subject=f"user:{suspect.pk}",
                    evidence=[(event.pk, event.occurred_at)],
                    subject_user_id=suspect.pk,
                    subject_username=suspect.username,
                )
            ]
        )
    assert NotificationDelivery.objects.filter(alert_id=alert_id).count() == 3


def test_every_channel_delivers_and_the_webhook_signature_verifies(channels, receiver, make_user):
    suspect = make_user("nurse")
    alert = alert_about(suspect, rule="canary_access", severity="critical")
    assert notifications.notifications_enqueue(alert_ids=[alert.pk]) == 3
    assert notifications.notifications_enqueue(alert_ids=[alert.pk]) == 0  # one row per channel, ever
    sink = MemorySink()
    report = notifications.notifications_deliver(notifiers=_notifiers(sink))
    assert report == notifications.DeliveryReport(sent=3, retrying=0, failed=0)

    # E-mail: to the configured recipients, a link and no patient id.
    (message,) = mail.outbox
    assert message.to == ["soc@hospital.test"]
    assert f"alert {alert.pk}" in message.subject
    assert "canary_access" in message.subject
    assert f"/detection/alerts/{alert.pk}/" in message.body
    assert alert.patient_id not in message.body

    # Webhook: the receiver verifies the signature with the documented scheme.
    ((headers, body),) = receiver.received
    assert headers["content-type"] == "application/json"
    now = int(clock.now().timestamp())
    assert notifications.webhook_signature_verify(
        secret=SECRET,
        timestamp=headers["x-safeward-timestamp"],
        body=body,
        signature=headers["x-safeward-signature"],
        now=now,
    )
    payload = json.loads(body)
    assert payload["alert_id"] == alert.pk
    assert payload["rule"] == "canary_access"
    assert payload["subject_username"] == suspect.username
    assert headers["x-safeward-delivery"].isdigit()
    # A tampered body, another secret, or a replay outside the window fails.
    tampered = body.replace(b'"critical"', b'"low"')
    assert tampered != body
    signature, timestamp = headers["x-safeward-signature"], headers["x-safeward-timestamp"]
    assert not notifications.webhook_signature_verify(
        secret=SECRET, timestamp=timestamp, body=tampered, signature=signature, now=now
    )
    assert not notifications.webhook_signature_verify(
        secret="another-secret", timestamp=timestamp, body=body, signature=signature, now=now
    )
    assert not notifications.webhook_signature_verify(
        secret=SECRET, timestamp=timestamp, body=body, signature=signature, now=now + 301
    )
    assert not notifications.webhook_signature_verify(
        secret=SECRET, timestamp=str(int(timestamp) + 1), body=body, signature=signature, now=now
    )

    # Syslog: one RFC 5424 message, octet-counted, with a CEF body.
    (frame,) = sink.messages
    length, _, message_bytes = frame.partition(b" ")
    assert int(length) == len(message_bytes)
    text = message_bytes.decode("utf-8")
    assert text.startswith("<82>1 ")  # authpriv.critical
    assert " ALERT " in text
    assert "CEF:0|SafeWard|SafeWard|1|detection:canary_access|" in text
    assert f"cn1={alert.pk}" in text
    assert f"suser={suspect.username}" in text

    assert set(NotificationDelivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_failing_webhook_loses_nothing_and_blocks_no_other_channel(
    channels, receiver, make_user, frozen_clock, settings
):
    settings.SAFEWARD_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/closed"  # discard port: nothing listens
    suspect = make_user("nurse")
    alert = alert_about(suspect)
    notifications.notifications_enqueue(alert_ids=[alert.pk])
    sink = MemorySink()
    report = notifications.notifications_deliver(notifiers=_notifiers(sink))
    assert report == notifications.DeliveryReport(sent=2, retrying=1, failed=0)
    assert len(mail.outbox) == 1
    assert len(sink.messages) == 1
    webhook = NotificationDelivery.objects.get(channel="webhook")
    assert webhook.status == "pending"
    assert webhook.attempts == 1
    assert webhook.last_error.startswith("webhook:")
    assert webhook.next_attempt_at == frozen_clock.now() + dt.timedelta(seconds=30)
    assert Alert.objects.filter(pk=alert.pk).exists()
    # Not due yet: nothing is retried before the backoff has passed.
    assert notifications.notifications_deliver(notifiers=_notifiers(sink)).retrying == 0
    # The receiver comes back: the same delivery goes through on the next try.
    frozen_clock.advance(seconds=31)
    settings.SAFEWARD_ALERT_WEBHOOK_URL = f"http://127.0.0.1:{receiver.server_port}/hook"
    report = notifications.notifications_deliver(notifiers=_notifiers(sink))
    assert report.sent == 1
    webhook.refresh_from_db()
    assert webhook.status == "sent"
    assert webhook.attempts == 2
    assert len(receiver.received) == 1


def test_a_receiver_error_backs_off_and_finally_fails(channels, receiver, make_user, frozen_clock):
    receiver.status = 500
    suspect = make_user("nurse")
    alert = alert_about(suspect)
    notifications.notifications_enqueue(alert_ids=[alert.pk])
    notifiers = _notifiers(MemorySink())
    delays = []
    for _ in range(notifications.MAX_ATTEMPTS):
        notifications.notifications_deliver(notifiers=notifiers)
        webhook = NotificationDelivery.objects.get(channel="webhook")
        if webhook.status == "failed":
            break
        delays.append((webhook.next_attempt_at - frozen_clock.now()).total_seconds())
        frozen_clock.advance(seconds=4000)
    assert webhook.status == "failed"
    assert webhook.last_error == "webhook: HTTP 500"
    assert delays[:4] == [30, 60, 120, 240]
    assert max(delays) == notifications.BACKOFF_MAX_SECONDS


def test_the_signal_receiver_never_raises_into_the_worker(channels, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(notifications, "notifications_enqueue", broken)
    notifications.on_alerts_raised(Alert, alerts=[(1, True)])


def test_drills_and_low_severities_can_be_left_out(channels, settings, make_user):
    suspect = make_user("nurse")
    settings.SAFEWARD_ALERT_MIN_SEVERITY = "high"
    assert notifications.notifications_enqueue(alert_ids=[alert_about(suspect, severity="medium").pk]) == 0
    settings.SAFEWARD_ALERT_NOTIFY_DRILLS = False
    assert notifications.notifications_enqueue(alert_ids=[alert_about(suspect, is_drill=True).pk]) == 0
    assert notifications.notifications_enqueue(alert_ids=[alert_about(suspect).pk]) == 3


def test_notifiers_conform_to_the_protocol(channels):
    for notifier in notifications.notifiers_from_config(notifications.notify_config()).values():
        assert isinstance(notifier, notifications.Notifier)


def test_the_webhook_secret_may_be_a_sealed_secret_token(settings):
    from safeward.crypto.secrets import encrypt_secret

    settings.SAFEWARD_ALERT_WEBHOOK_SECRET = encrypt_secret(SECRET, purpose="alert-webhook")
    assert notifications.notify_config().webhook_secret == SECRET


def test_the_notify_command_delivers(channels, receiver, make_user, settings):
    from django.core.management import call_command

    settings.SAFEWARD_ALERT_SYSLOG_HOST = ""
    alert = alert_about(make_user("nurse"))
    notifications.notifications_enqueue(alert_ids=[alert.pk])
    call_command("notify")
    assert NotificationDelivery.objects.filter(status="sent").count() == 2


def test_deploy_checks_refuse_an_unsigned_or_plain_http_webhook(settings):
    from safeward.incidents.checks import check_notifications

    settings.SAFEWARD_ALERT_WEBHOOK_URL = "http://siem.hospital.test/hook"
    settings.SAFEWARD_ALERT_WEBHOOK_SECRET = ""
    assert {message.id for message in check_notifications(None)} == {"safeward.E711", "safeward.W712"}
    settings.SAFEWARD_ALERT_WEBHOOK_URL = "https://siem.hospital.test/hook"
    settings.SAFEWARD_ALERT_WEBHOOK_SECRET = SECRET
    assert check_notifications(None) == []


def _findings(users) -> list[Finding]:
    findings = []
    for user in users:
        event = audit_record(action=Action.READ, actor=user, resource_type="Patient", patient_id="pt-9")
        findings.append(
            Finding(
                rule="vip_access",
                severity="high",
                title=f"VIP record opened by {user.username}",
                subject=f"user:{user.pk}",
                evidence=[(event.pk, event.occurred_at)],
                subject_user_id=user.pk,
                subject_username=user.username,
                patient_id="pt-9",
            )
        )
    return findings


def test_a_batch_of_alerts_is_notified_in_statements_that_do_not_grow_with_it(
    channels, make_user, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The detection worker raises many alerts in one pass. What does not
    depend on the alert (the configuration, the sealed webhook secret) is
    read once for the batch; the alerts and the outbox rows of the whole
    batch are read and written in a fixed number of statements."""
    from safeward.crypto import secrets

    settings.SAFEWARD_ALERT_WEBHOOK_SECRET = secrets.encrypt_secret(SECRET, purpose="alert-webhook")
    opened: list[str] = []
    real_decrypt = secrets.decrypt_secret

    def counting_decrypt(token: str, *, purpose: str) -> str:
        opened.append(purpose)
        return real_decrypt(token, purpose=purpose)

    monkeypatch.setattr(secrets, "decrypt_secret", counting_decrypt)
    statements = {}
    for size in (1, 20):
        users = [make_user("nurse") for _ in range(size)]
        with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
            alerts_raise(_findings(users))
        opened.clear()
        with CaptureQueriesContext(connection) as queries:
            for callback in callbacks:  # what runs after the worker's commit
                callback()
        statements[size] = len(queries.captured_queries)
        assert opened == ["alert-webhook"], size  # the sealed secret is opened once per batch
    assert statements[20] == statements[1] <= 3, statements
    deliveries = NotificationDelivery.objects.order_by("alert_id", "channel")
    assert len(deliveries) == 21 * 3
    assert [d.channel for d in deliveries[:3]] == ["email", "syslog", "webhook"]
    assert all("patient_id" not in d.payload for d in deliveries if d.channel == "email")
    assert all(d.payload["patient_id"] == "pt-9" for d in deliveries if d.channel != "email")

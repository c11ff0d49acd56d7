"""Alert notifications: e-mail, an HMAC-signed webhook and the syslog/SIEM
feed (ADR 0710, docs/detection-operations.md).

When the detection worker raises new alerts (`alerts_raised`, sent once per
batch after its transaction committed), `on_alerts_raised` writes one outbox
row per alert and configured channel (this app's `NotificationDelivery`
outbox) and returns: nothing slow runs in the worker. `safeward notify`
delivers due rows, retrying failures with exponential backoff; a channel
that is down delays its own rows only.

Payloads carry no patient data: the alert id, rule, severity, status,
usernames, account ids, the pseudonymous patient id (webhook and syslog only;
e-mail leaves the hospital's systems more easily and carries the link alone),
times and a link to the alert.

Webhook signature (the scheme receivers verify):

    X-SafeWard-Timestamp: <unix seconds>
    X-SafeWard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
    X-SafeWard-Delivery: <delivery id>   (the same on every retry: deduplicate on it)

A receiver recomputes the HMAC over the exact bytes of the body, compares in
constant time and rejects a timestamp more than 300 seconds from its clock
(the replay window); `webhook_signature_verify` is the reference."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from safeward import clock
from safeward.audit.export import SD_ENTERPRISE, SyslogSink, cef_line, syslog_message, syslog_tls_context
from safeward.audit.export import hostname as local_hostname
from safeward.config import env
from safeward.detection.models import Alert
from safeward.incidents.models import NotificationDelivery

log = logging.getLogger("safeward.incidents.notifications")

REPLAY_WINDOW_SECONDS = 300
SIGNATURE_VERSION = "v1"
LEASE_SECONDS = 120
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
MAX_ATTEMPTS = 12  # 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 8 hours in all
_SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
_CEF_SEVERITY = {"low": 3, "medium": 5, "high": 8, "critical": 10}
_SYSLOG_SEVERITY = {"low": 5, "medium": 4, "high": 3, "critical": 2}  # notice .. critical


# --- configuration --------------------------------------------------------------


def _setting(name: str) -> Any:
    return getattr(settings, name, None)


def _items(name: str) -> list[str]:
    value = _setting(name)
    if value is not None:
        return [str(item) for item in value]
    return env.items(name)


def _text(name: str, default: str = "") -> str:
    value = _setting(name)
    if value is not None:
        return str(value)
    return env.optional_str(name) or default


@dataclass(frozen=True)
class NotifyConfig:
    """Read from Django settings (tests) or the environment (deployments)."""

    email_to: tuple[str, ...]
    webhook_url: str
    webhook_secret: str
    syslog_host: str
    syslog_port: int
    syslog_tls: bool
    syslog_ca_file: str
    min_severity: str
    include_drills: bool
    base_url: str

    @property
    def channels(self) -> list[str]:
        channels = []
        if self.email_to:
            channels.append(NotificationDelivery.Channel.EMAIL.value)
        if self.webhook_url:
            channels.append(NotificationDelivery.Channel.WEBHOOK.value)
        if self.syslog_host:
            channels.append(NotificationDelivery.Channel.SYSLOG.value)
        return channels


def notify_config() -> NotifyConfig:
    min_severity = _text("SAFEWARD_ALERT_MIN_SEVERITY", "low")
    if min_severity not in _SEVERITY_RANK:
        min_severity = "low"
    drills = _setting("SAFEWARD_ALERT_NOTIFY_DRILLS")
    return NotifyConfig(
        email_to=tuple(_items("SAFEWARD_ALERT_EMAIL_TO")),
        webhook_url=_text("SAFEWARD_ALERT_WEBHOOK_URL"),
        webhook_secret=_webhook_secret(),
        syslog_host=_text("SAFEWARD_ALERT_SYSLOG_HOST"),
        syslog_port=int(_text("SAFEWARD_ALERT_SYSLOG_PORT", "6514")),
        syslog_tls=_text("SAFEWARD_ALERT_SYSLOG_TLS", "true").lower() in {"1", "true", "yes", "on"},
        syslog_ca_file=_text("SAFEWARD_ALERT_SYSLOG_CA_FILE"),
        min_severity=min_severity,
        include_drills=bool(drills)
        if drills is not None
        else env.boolean("SAFEWARD_ALERT_NOTIFY_DRILLS", True),
        base_url=_text("SAFEWARD_BASE_URL", "https://127.0.0.1:8443").rstrip("/"),
    )


WEBHOOK_SECRET_PURPOSE = "alert-webhook"  # noqa: S105 - a sealing purpose, not a secret


def webhook_secret_setting() -> str:
    """The setting as configured: plaintext or a sealed token (`sws1.`)."""
    return _text("SAFEWARD_ALERT_WEBHOOK_SECRET")


def _webhook_secret() -> str:
    """The shared secret, in the environment either as is or as a SafeWard
    secret token (`sws1.`, sealed with purpose `alert-webhook` under the
    data keys by safeward.crypto.secrets, e.g. with `safeward keys seal`) so
    it never sits in plaintext."""
    raw = webhook_secret_setting()
    if not raw:
        return ""
    from safeward.crypto.secrets import decrypt_secret, is_secret_token

    return decrypt_secret(raw, purpose=WEBHOOK_SECRET_PURPOSE) if is_secret_token(raw) else raw


# --- payloads ------------------------------------------------------------------------


def alert_link(alert_id: int, *, base_url: str) -> str:
    return f"{base_url}/detection/alerts/{alert_id}/"


def alert_payload(alert: Alert, *, base_url: str) -> dict[str, Any]:
    """What every channel is built from: identifiers and codes only."""
    return {
        "type": "safeward-alert",
        "alert_id": alert.pk,
        "rule": alert.rule,
        "severity": alert.severity,
        "status": alert.status,
        "title": alert.title,
        "subject_user_id": alert.subject_user_id,
        "subject_username": alert.subject_username,
        "patient_id": alert.patient_id,
        "client_ip": alert.client_ip,
        "occurrences": alert.occurrences,
        "first_event_id": alert.first_event_id,
        "first_event_at": alert.first_event_at.astimezone(dt.UTC).isoformat(),
        "created_at": alert.created_at.astimezone(dt.UTC).isoformat(),
        "drill": alert.is_drill,
        "link": alert_link(int(alert.pk), base_url=base_url),
    }


def payload_body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


# --- the webhook signature ------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def webhook_signature_verify(
    *, secret: str, timestamp: str, body: bytes, signature: str, now: int, window: int = REPLAY_WINDOW_SECONDS
) -> bool:
    """The receiver's side: True only for an untampered body signed with
    `secret` at a time within `window` seconds of `now`."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > window:
        return False
    expected = webhook_signature(secret=secret, timestamp=int(timestamp), body=body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))


# --- channels ----------------------------------------------------------------------


class DeliveryFailed(Exception):
    """A delivery did not go through; the message names no patient data."""


@runtime_checkable
class Notifier(Protocol):
    """Sends one delivery's payload; returns when the receiver accepted it
    and raises DeliveryFailed otherwise."""

    channel: str

    def send(self, *, delivery_id: int, payload: Mapping[str, Any]) -> None: ...


class EmailNotifier:
    channel = NotificationDelivery.Channel.EMAIL.value

    def __init__(self, *, recipients: tuple[str, ...]) -> None:
        self.recipients = recipients

    def send(self, *, delivery_id: int, payload: Mapping[str, Any]) -> None:
        drill = "[DRILL] " if payload.get("drill") else ""
        subject = f"{drill}SafeWard alert {payload['alert_id']}: {payload['severity']} {payload['rule']}"
        lines = [
            f"{drill}A detection rule raised an alert.",
            "",
            f"Alert:     {payload['alert_id']}",
            f"Rule:      {payload['rule']}",
            f"Severity:  {payload['severity']}",
            f"Title:     {payload['title']}",
            f"Account:   {payload.get('subject_username') or '-'}",
            f"First seen (UTC): {payload['first_event_at']}",
            "",
            f"Open it in SafeWard: {payload['link']}",
            "",
            "This message carries no patient information; sign in to see the evidence.",
        ]
        try:
            sent = send_mail(subject, "\n".join(lines), None, list(self.recipients))
        except Exception as error:  # any mail failure is retried later
            raise DeliveryFailed(f"mail: {type(error).__name__}") from None
        if sent != 1:
            raise DeliveryFailed("mail: not accepted")


class WebhookNotifier:
    channel = NotificationDelivery.Channel.WEBHOOK.value

    def __init__(self, *, url: str, secret: str, timeout: float = 5.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the webhook URL must be http(s)")
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, *, delivery_id: int, payload: Mapping[str, Any]) -> None:
        if not self.secret:
            raise DeliveryFailed("webhook: no secret configured")
        body = payload_body(payload)
        timestamp = int(clock.now().timestamp())
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "SafeWard-Alerts/1",
                "X-SafeWard-Timestamp": str(timestamp),
                "X-SafeWard-Signature": webhook_signature(secret=self.secret, timestamp=timestamp, body=body),
                "X-SafeWard-Delivery": str(delivery_id),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            raise DeliveryFailed(f"webhook: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise DeliveryFailed(f"webhook: {type(error).__name__}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"webhook: HTTP {status}")


def alert_cef(payload: Mapping[str, Any]) -> str:
    """The alert as a CEF line (ArcSight Common Event Format)."""
    created = dt.datetime.fromisoformat(str(payload["created_at"]))
    extension = {
        "rt": str(int(created.timestamp() * 1000)),
        "suser": str(payload.get("subject_username") or ""),
        "suid": str(payload.get("subject_user_id") or ""),
        "src": str(payload.get("client_ip") or ""),
        "cs1Label": "patientId",
        "cs1": str(payload.get("patient_id") or ""),
        "cs2Label": "status",
        "cs2": str(payload["status"]),
        "cs3Label": "drill",
        "cs3": "true" if payload.get("drill") else "",
        "cn1Label": "alertId",
        "cn1": str(payload["alert_id"]),
        "cn2Label": "firstEventSequence",
        "cn2": str(payload["first_event_id"]),
        "request": str(payload["link"]),
    }
    return cef_line(
        signature=f"detection:{payload['rule']}",
        name=str(payload["title"]),
        severity=_CEF_SEVERITY.get(str(payload["severity"]), 5),
        extension=extension,
    )


def alert_syslog(payload: Mapping[str, Any], *, hostname: str) -> bytes:
    """RFC 5424 message, octet-counted for TCP/TLS (RFC 5425), body a CEF line:
    the same framing as the audit export, message id ALERT."""
    sd = (
        f'[safeward@{SD_ENTERPRISE} alert="{payload["alert_id"]}" rule="{payload["rule"]}" '
        f'severity="{payload["severity"]}"]'
    )
    return syslog_message(
        severity=_SYSLOG_SEVERITY.get(str(payload["severity"]), 4),
        timestamp=str(payload["created_at"]).replace("+00:00", "Z"),
        hostname=hostname,
        msgid="ALERT",
        sd=sd,
        body=alert_cef(payload),
    )


class SyslogNotifier:
    channel = NotificationDelivery.Channel.SYSLOG.value

    def __init__(self, *, sink: Any, hostname: str) -> None:
        self.sink, self.hostname = sink, hostname

    def send(self, *, delivery_id: int, payload: Mapping[str, Any]) -> None:
        try:
            self.sink.deliver([alert_syslog(payload, hostname=self.hostname)])
        except OSError as error:
            raise DeliveryFailed(f"syslog: {type(error).__name__}") from None


def notifiers_from_config(config: NotifyConfig) -> dict[str, Notifier]:
    notifiers: dict[str, Notifier] = {}
    if config.email_to:
        notifiers["email"] = EmailNotifier(recipients=config.email_to)
    if config.webhook_url:
        notifiers["webhook"] = WebhookNotifier(url=config.webhook_url, secret=config.webhook_secret)
    if config.syslog_host:
        tls = (
            syslog_tls_context(ca_file=config.syslog_ca_file or None, cert_file=None, key_file=None)
            if config.syslog_tls
            else None
        )
        sink = SyslogSink(host=config.syslog_host, port=config.syslog_port, tls=tls, timeout=5.0)
        notifiers["syslog"] = SyslogNotifier(sink=sink, hostname=local_hostname())
    return notifiers


# --- the outbox ----------------------------------------------------------------------


def notifications_enqueue(*, alert_ids: Collection[int], config: NotifyConfig | None = None) -> int:
    """Write the outbox rows for new alerts; returns how many. One call per
    batch the worker raised: the configuration (and its sealed webhook secret)
    is read once, the alerts in one SELECT and the rows written in one INSERT,
    so the statements do not grow with the batch. Idempotent: an alert gets
    at most one row per channel."""
    config = config or notify_config()
    if not config.channels or not alert_ids:  # before reading the alerts: no channels, nothing to pay
        return 0
    floor = _SEVERITY_RANK[config.min_severity]
    alerts = [
        alert
        for alert in Alert.objects.filter(pk__in=list(alert_ids)).order_by("pk")
        if _SEVERITY_RANK.get(alert.severity, 0) >= floor and (config.include_drills or not alert.is_drill)
    ]
    if not alerts:
        return 0
    queued = set(
        NotificationDelivery.objects.filter(alert_id__in=[alert.pk for alert in alerts]).values_list(
            "alert_id", "channel"
        )
    )
    now = clock.now()
    rows = []
    for alert in alerts:
        payload = alert_payload(alert, base_url=config.base_url)
        for channel in config.channels:
            if (alert.pk, channel) in queued:
                continue
            body = dict(payload)
            if channel == NotificationDelivery.Channel.EMAIL:
                body.pop("patient_id", None)
                body.pop("client_ip", None)
            rows.append(
                NotificationDelivery(
                    alert_id=alert.pk, channel=channel, payload=body, next_attempt_at=now, created_at=now
                )
            )
    # A row another process queued in between stays as it is (the unique constraint).
    NotificationDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def on_alerts_raised(sender: Any, *, alerts: Sequence[tuple[int, bool]], **kwargs: Any) -> None:
    """Receiver of `alerts_raised`, once per batch. Only a new alert notifies
    (repeats grouped into an open alert do not). Never raises into the worker:
    a failure to write the outbox is logged (ids only) and the alerts stand."""
    new = [alert_id for alert_id, created in alerts if created]
    if not new:
        return
    try:
        notifications_enqueue(alert_ids=new)
    except Exception:  # the worker must not fail because of notifications
        log.exception("could not queue notifications for %d alert(s) from %s", len(new), min(new))


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


def _claim(limit: int) -> list[NotificationDelivery]:
    """Take up to `limit` due rows under a lease, so two delivery processes
    never send the same row at once and a crashed one's rows come back."""
    now = clock.now()
    with transaction.atomic():
        due = list(
            NotificationDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationDelivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")[:limit]
        )
        for delivery in due:
            delivery.attempts += 1
            delivery.next_attempt_at = now + dt.timedelta(seconds=LEASE_SECONDS)
            delivery.save(update_fields=["attempts", "next_attempt_at"])
    return due


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    retrying: int
    failed: int


def notifications_deliver(*, notifiers: Mapping[str, Notifier], limit: int = 100) -> DeliveryReport:
    """Deliver what is due once. Each row is tried on its own: one channel
    failing neither stops the others nor loses its row (it is retried after
    a backoff, and marked failed after MAX_ATTEMPTS)."""
    sent = retrying = failed = 0
    for delivery in _claim(limit):
        notifier = notifiers.get(delivery.channel)
        error = ""
        if notifier is None:
            error = f"{delivery.channel}: channel not configured"
        else:
            try:
                notifier.send(delivery_id=int(delivery.pk), payload=delivery.payload)
            except DeliveryFailed as failure:
                error = str(failure)[:200]
        now = clock.now()
        if not error:
            delivery.status = NotificationDelivery.Status.SENT
            delivery.sent_at = now
            delivery.last_error = ""
            sent += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = NotificationDelivery.Status.FAILED
            delivery.last_error = error
            failed += 1
            log.warning(
                "notification %s for alert %s failed for good: %s", delivery.pk, delivery.alert_id, error
            )
        else:
            delivery.next_attempt_at = now + _backoff(delivery.attempts)
            delivery.last_error = error
            retrying += 1
        delivery.save(update_fields=["status", "sent_at", "last_error", "next_attempt_at"])
    return DeliveryReport(sent, retrying, failed)

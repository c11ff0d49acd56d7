"""`vendor_bulk_access`, the detection rule for vendor accounts and clients
(ADR 1211), registered into detection's worker from `VendorsConfig.ready()`
(detection imports no vendors code). Its code, severity and parameters are in
detection's catalog, tuned on the rule configuration page like any rule.

A batch with patient accesses by an account a vendor holds (a vendor staff
account, a backend client's service account) counts, per vendor, the
distinct patients that all its accounts and OAuth clients touched in the
window ending at the batch's last such access, searches and lists included
(`audit.selectors.patients_touched`, the breach scope's count), and raises an
alert when it reaches the ceiling for the PHI volume the vendor is
registered for. Counts only; the alert names no patient."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from safeward.audit.selectors import patients_touched
from safeward.detection.evaluate import Context, register_rule
from safeward.detection.rules import Code
from safeward.detection.services import Finding
from safeward.detection.worker import Event
from safeward.vendors import selectors
from safeward.vendors.models import Credential, Vendor

MAX_EVIDENCE = 1000


def rule_vendor_bulk_access(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.VENDOR_BULK_ACCESS)
    if config is None or not ctx.accesses:
        return []
    actor_ids = {event.actor_id for event in ctx.accesses if event.actor_id is not None}
    vendor_of = dict(
        Credential.objects.filter(user_id__in=actor_ids).values_list("user_id", "vendor_id")
    )  # one indexed query per batch with accesses; no row for the hospital's own staff
    if not vendor_of:
        return []
    by_vendor: dict[int, list[Event]] = defaultdict(list)
    for event in ctx.accesses:
        if event.actor_id in vendor_of:
            by_vendor[vendor_of[event.actor_id]].append(event)
    window = dt.timedelta(hours=int(config.params["window_hours"]))
    findings = []
    for vendor in Vendor.objects.filter(pk__in=list(by_vendor)).order_by("pk"):
        events = by_vendor[vendor.pk]
        threshold = int(config.params[f"{vendor.phi_volume}_threshold"])
        end = max(event.occurred_at for event in events)
        vendor_actor_ids, client_ids = selectors.vendor_actors(vendor_id=vendor.pk)
        count = len(
            patients_touched(
                start=end - window,
                end=end + dt.timedelta(microseconds=1),
                actor_ids=vendor_actor_ids,
                client_ids=client_ids,
            )
        )
        if count < threshold:
            continue
        last = events[-1]
        findings.append(
            Finding(
                rule=config.code,
                severity=config.severity,
                title=f"Vendor {vendor.name}: {count} patients in {window.total_seconds() / 3600:g} h "
                f"(ceiling {threshold} for {vendor.get_phi_volume_display().lower()})",
                subject=f"vendor:{vendor.pk}",
                evidence=[(event.id, event.occurred_at) for event in events][-MAX_EVIDENCE:],
                subject_user_id=last.actor_id,
                subject_username=last.actor_username[:150],
                client_ip=last.client_ip,
                is_drill=all(ctx.is_drill(event) for event in events),
                group_minutes=int(config.params["group_minutes"]),
                detail={
                    "vendor_id": vendor.pk,
                    "distinct_patients": count,
                    "threshold": threshold,
                    "phi_volume": vendor.phi_volume,
                },
            )
        )
    return findings


def register() -> None:
    register_rule(rule_vendor_bulk_access)

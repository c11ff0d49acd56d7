"""`vendor_bulk_access`, the detection rule for vendor accounts and clients
(ADR 1211), registered into detection's worker from `VendorsConfig.ready()`
(detection imports no vendors code). Its code, severity and parameters are in
detection's catalog, tuned on the rule configuration page like any rule.

A batch with patient accesses that are a vendor's counts, per vendor, the
distinct patients that all its accounts and OAuth clients touched in the
window ending at the batch's last such access, searches and lists included
(`audit.selectors.patients_touched`, the breach scope's count), and raises an
alert when it reaches the ceiling for the PHI volume the vendor is
registered for: one alert per vendor per batch, its evidence that vendor's
accesses of the batch. An access is a vendor's when its actor is an account
the vendor holds (a vendor staff account, a backend client's service
account) or when it carries the client id of an OAuth client the vendor
holds, whoever the actor (ADR 1221): a hospital user working through the
vendor's SMART app, a client whose service account is no credential. An
access by one vendor's account through another vendor's client is both
vendors'. The batch's accounts and clients are read in one statement.

Each account and client counts only while it was the vendor's (ADR 1220,
as the monthly touch, ADR 1219): from its binding until its revocation
(`vendors.selectors.vendor_tenures`), in the window's count, in the
baseline, and in which of a batch's accesses are the vendor's at all. An
account's earlier work as hospital staff, or its work after the vendor let
it go, is not the vendor's; nor is what an app did before the vendor's
binding of it or after its revocation.

It also learns each vendor's own baseline (ADR 1217): one grouped query
(`audit.selectors.patients_touched_per_day`) counts the distinct patients of
the last 24 h and of each day of the baseline period before them; the
baseline is a high percentile of the active days, and the last 24 h alert
past max(floor, factor x baseline) even under the declared ceiling. A vendor
with fewer active days than `baseline_min_days` has the ceiling only. The
alert's detail says which limit was crossed, with the numbers. Counts only;
the alert names no patient."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, OuterRef, Subquery, Value

from safeward.audit.selectors import Tenure, patients_touched, patients_touched_per_day
from safeward.detection.evaluate import Context, register_rule
from safeward.detection.rules import Code
from safeward.detection.services import Finding
from safeward.detection.worker import Event
from safeward.vendors import selectors
from safeward.vendors.models import Credential, Vendor

MAX_EVIDENCE = 1000
DAY = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Baseline:
    """A vendor's learned limit: the last 24 h against its own history."""

    patients_24h: int
    active_days: int  # days of the baseline period with at least one patient
    value: int | None  # the percentile of the active days; None: too little history
    limit: int | None  # max(floor, ceil(factor x value)); None: too little history

    @property
    def crossed(self) -> bool:
        return self.limit is not None and self.patients_24h > self.limit

    def detail(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "patients_24h": self.patients_24h,
            "active_days": self.active_days,
            "days": int(params["baseline_days"]),
            "min_days": int(params["baseline_min_days"]),
            "percentile": int(params["baseline_percentile"]),
            "value": self.value,
            "factor": float(params["baseline_factor"]),
            "floor": int(params["baseline_floor"]),
            "limit": self.limit,
        }


def learned_baseline(
    params: dict[str, Any], *, end: dt.datetime, accounts: list[Tenure[int]], clients: list[Tenure[str]]
) -> Baseline:
    """One grouped query over the last 24 h and the `baseline_days` before
    them. Idle days are left out of the percentile: they say nothing about
    how much the vendor reads when it works (a weekday-only vendor would
    otherwise get a baseline of its weekends)."""
    days = int(params["baseline_days"])
    counts = patients_touched_per_day(end=end, days=days + 1, accounts=accounts, clients=clients)
    active = sorted(count for count in counts[1:] if count)
    if len(active) < int(params["baseline_min_days"]):
        return Baseline(counts[0], len(active), None, None)
    # Nearest-rank percentile: an observed day, never an interpolation.
    value = active[max(math.ceil(int(params["baseline_percentile"]) / 100 * len(active)), 1) - 1]
    limit = max(int(params["baseline_floor"]), math.ceil(float(params["baseline_factor"]) * value))
    return Baseline(counts[0], len(active), value, limit)


type Held[H: (int, str)] = dict[H, list[tuple[int, Tenure[H]]]]


def _held_in_batch(accesses: list[Event]) -> tuple[Held[int], Held[str]]:
    """The vendor bindings of the batch's actors and OAuth clients, each with
    its tenure, in one statement per batch: the accounts' credentials by the
    index on `Credential.user`, UNION ALL (when the batch has client ids) the
    clients' by `Application.client_id` (unique) then
    `Credential.application_id`, a client's credential being found by its
    application, whose client id is what the audit event carries. No row for
    the hospital's own staff and apps. (An OR of the two in one WHERE would
    leave PostgreSQL no index for the client side.)"""
    from oauth2_provider.models import Application

    actor_ids = {event.actor_id for event in accesses if event.actor_id is not None}
    client_ids = {event.client_id for event in accesses if event.client_id}
    columns = ("user_id", "client", "vendor_id", "created_at", "revoked_at")
    rows = (
        Credential.objects.filter(user_id__in=actor_ids)
        .order_by()
        .annotate(client=Value("", output_field=CharField()))
        .values_list(*columns)
    )
    if client_ids:
        applications = Application.objects.filter(client_id__in=client_ids)
        rows = rows.union(
            Credential.objects.filter(application_id__in=applications.values("pk"))
            .order_by()
            .annotate(
                client=Subquery(Application.objects.filter(pk=OuterRef("application_id")).values("client_id"))
            )
            .values_list(*columns),
            all=True,
        ).order_by()
    accounts: Held[int] = defaultdict(list)
    clients: Held[str] = defaultdict(list)
    for user_id, client, vendor_id, start, end in rows:
        # Each row is one side of the UNION: a client's names its client id (a
        # client-credentials client's service account, in the batch, came as an account's row too).
        if client:
            clients[client].append((vendor_id, Tenure(client, start, end)))
        else:
            accounts[user_id].append((vendor_id, Tenure(user_id, start, end)))
    return accounts, clients


def rule_vendor_bulk_access(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.VENDOR_BULK_ACCESS)
    if config is None or not ctx.accesses:
        return []
    batch_accounts, batch_clients = _held_in_batch(ctx.accesses)
    if not batch_accounts and not batch_clients:
        return []
    by_vendor: dict[int, list[Event]] = defaultdict(list)
    for event in ctx.accesses:
        # The vendors whose bindings held the account or the client when the
        # access happened: an access is one vendor's evidence once, even when
        # made by its account through its client.
        held: list[tuple[int, Tenure[Any]]] = [
            *batch_accounts.get(event.actor_id or 0, []),
            *batch_clients.get(event.client_id, []),
        ]
        for vendor_id in {vendor_id for vendor_id, tenure in held if tenure.covers(event.occurred_at)}:
            by_vendor[vendor_id].append(event)
    window = dt.timedelta(hours=int(config.params["window_hours"]))
    findings = []
    for vendor in Vendor.objects.filter(pk__in=list(by_vendor)).order_by("pk"):
        events = by_vendor[vendor.pk]
        threshold = int(config.params[f"{vendor.phi_volume}_threshold"])
        end = max(event.occurred_at for event in events)
        accounts, clients = selectors.vendor_tenures(vendor_id=vendor.pk)
        # Both windows end just after the batch's last access, so it counts.
        until = end + dt.timedelta(microseconds=1)
        count = len(patients_touched(start=until - window, end=until, accounts=accounts, clients=clients))
        declared = count >= threshold
        # With a 24 h window the count is the last 24 h: at or under the floor
        # the baseline cannot alert, so its query is spared.
        baseline = None
        if window != DAY or count > int(config.params["baseline_floor"]):
            baseline = learned_baseline(config.params, end=until, accounts=accounts, clients=clients)
        learned = baseline is not None and baseline.crossed
        if not declared and not learned:
            continue
        crossed = [name for name, hit in (("declared", declared), ("learned", learned)) if hit]
        limits = []
        if declared:
            limits.append(f"ceiling {threshold} for {vendor.get_phi_volume_display().lower()}")
        if baseline is not None and learned:
            limits.append(
                f"{baseline.patients_24h} in 24 h over its learned limit {baseline.limit}"
                f" ({float(config.params['baseline_factor']):g} x {baseline.value} a day)"
            )
        last = events[-1]
        findings.append(
            Finding(
                rule=config.code,
                severity=config.severity,
                title=f"Vendor {vendor.name}: {count} patients in {window.total_seconds() / 3600:g} h "
                f"({'; '.join(limits)})",
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
                    "limits_crossed": crossed,
                    "baseline": baseline.detail(config.params) if baseline is not None else None,
                },
            )
        )
    return findings


def register() -> None:
    register_rule(rule_vendor_bulk_access)

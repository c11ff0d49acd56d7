"""The business impact analysis: for each clinical service, the assets it
depends on (the asset register's `clinical_services`, `rto_minutes`,
`rpo_minutes` and dependencies, read through assets' selectors), its
recovery objectives, and whether the backups and the last restore test meet
them. Gaps are what a continuity plan has to fix."""

from __future__ import annotations

from dataclasses import dataclass, field

from safeward.continuity import selectors

BACKUP_INTERVAL_MINUTES = 24 * 60  # nightly


@dataclass
class ServiceAsset:
    id: int
    name: str
    kind: str
    criticality: str
    rto_minutes: int | None
    rpo_minutes: int | None
    depends_on: list[str]
    safeward_store: bool


@dataclass
class ServiceImpact:
    service: str
    assets: list[ServiceAsset] = field(default_factory=list)
    rto_minutes: int | None = None
    rpo_minutes: int | None = None
    gaps: list[str] = field(default_factory=list)


def impact_analysis() -> list[ServiceImpact]:
    from safeward.assets.selectors import assets_in_service

    services: dict[str, ServiceImpact] = {}
    for asset in assets_in_service().prefetch_related("depends_on"):
        for service in asset.clinical_services or []:
            impact = services.setdefault(str(service), ServiceImpact(str(service)))
            impact.assets.append(
                ServiceAsset(
                    id=asset.pk,
                    name=asset.name,
                    kind=asset.kind,
                    criticality=asset.criticality,
                    rto_minutes=asset.rto_minutes,
                    rpo_minutes=asset.rpo_minutes,
                    depends_on=sorted(other.name for other in asset.depends_on.all()),
                    safeward_store=bool(asset.system_key and str(asset.system_key).startswith("safeward.")),
                )
            )
    restore = selectors.restore_test_last_passed()
    backup = selectors.backup_last_verified()
    for impact in services.values():
        rtos = [a.rto_minutes for a in impact.assets if a.rto_minutes is not None]
        rpos = [a.rpo_minutes for a in impact.assets if a.rpo_minutes is not None]
        impact.rto_minutes = min(rtos) if rtos else None
        impact.rpo_minutes = min(rpos) if rpos else None
        for member in impact.assets:
            if member.rto_minutes is None or member.rpo_minutes is None:
                impact.gaps.append(f"{member.name}: no RTO/RPO recorded")
        if any(a.safeward_store for a in impact.assets):
            if backup is None:
                impact.gaps.append("no verified SafeWard backup")
            if restore is None:
                impact.gaps.append("no passed restore test")
            elif impact.rto_minutes is not None and restore.duration_seconds > impact.rto_minutes * 60:
                impact.gaps.append(
                    f"the last restore test took {restore.duration_seconds / 60:.0f} min, over the RTO"
                )
            if impact.rpo_minutes is not None and impact.rpo_minutes < BACKUP_INTERVAL_MINUTES:
                impact.gaps.append(
                    f"RPO {impact.rpo_minutes} min is tighter than the nightly backup (needs WAL archiving)"
                )
    return sorted(services.values(), key=lambda i: i.service)

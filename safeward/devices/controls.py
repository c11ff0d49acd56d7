"""The devices app's control tests (safeward/compliance.py, issue 18).

* `devices.compensating_controls`: each active compensating control passes its
  live test and has not expired (HICP Table 12). Resource id
  `compensating-control:<pk>`, stable: compliance exceptions (the patching
  work's, for one) name these (control id, resource id) pairs.
* `devices.legacy_isolated`: each legacy device still on the networks (past
  its end of support) sits on an isolated clinical-device segment with no
  flow to the internet or the guest network. Resource id `device:<pk>`.
* `devices.mds2_on_file`: each medical device model in service has its
  manufacturer's MDS2 on file. Resource id `device:<pk>`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.compliance import Check, control
from safeward.devices import posture_controls, selectors  # noqa: F401 (posture_controls registers its tests)
from safeward.devices.models import Device


@control(
    "devices.compensating_controls",
    title="Every compensating control passes its live test and is within its expiry",
    maps=(
        "hicp:9.S.A",
        "hicp:9.M.A",
        "hicp:7.L.B",
        "iso27001-2022:A.8.8",
        "csf2:PR.PS-02",
        "csf2:PR.PS-03",
    ),
)
def compensating_controls(now: dt.datetime) -> Iterator[Check]:
    for item in selectors.controls_list():
        state = selectors.control_state(item, now=now)
        yield Check(
            "compensating_control",
            item.resource_id,
            f"{item.title} ({item.scope_label})"[:200],
            passed=state.passed,
            evidence={
                "state": state.state,
                "reason": state.reason[:500],
                "kind": item.kind,
                "test": item.test,
                "owner": item.owner.username,
                "expires_on": item.expires_on.isoformat(),
                "review_due": item.review_due.isoformat(),
                "evidence_sha256": [e.sha256 for e in selectors.control_evidence(control_id=item.pk)],
            },
        )


@control(
    "devices.legacy_isolated",
    title="Every legacy device sits on an isolated clinical-device segment",
    maps=("hicp:9.M.E", "hicp:6.M.B", "iso27001-2022:A.8.22", "csf2:PR.IR-01"),
)
def legacy_isolated(now: dt.datetime) -> Iterator[Check]:
    for device in selectors.devices_list(legacy=True, now=now):
        if device.lifecycle not in selectors.ACTIVE:
            continue
        why = selectors.segment_isolation(device.segment)
        yield Check(
            "device",
            f"device:{device.pk}",
            device.asset_tag,
            passed=not why,
            evidence={
                "end_of_support": device.end_of_support.isoformat() if device.end_of_support else None,
                "segment": device.segment.name if device.segment else None,
                "reason": why,
            },
        )


@control(
    "devices.mds2_on_file",
    title="Every medical device in service has its model's MDS2 on file",
    maps=("hicp:9.L.C", "hicp:9.M.D", "iso27001-2022:A.5.9", "csf2:ID.AM-01"),
)
def mds2_on_file(now: dt.datetime) -> Iterator[Check]:
    on_file = {(s.manufacturer.casefold(), s.model.casefold()) for s in selectors.statements_list()}
    for device in selectors.devices_list(kind=Device.Kind.MEDICAL, now=now):
        if device.lifecycle not in selectors.ACTIVE:
            continue
        yield Check(
            "device",
            f"device:{device.pk}",
            device.asset_tag,
            passed=(device.manufacturer.casefold(), device.model.casefold()) in on_file,
            evidence={"manufacturer": device.manufacturer, "model": device.model},
        )

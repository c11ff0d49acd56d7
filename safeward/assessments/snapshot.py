"""A control run as canonical JSON: what is hashed and signed (ADR 0900).

The same function serialises a run from its stored rows, at signing and at
every verification, so an edited outcome, resource row or evidence value
changes the bytes, the SHA-256 and so the signature check. The exported
snapshot file is this document plus the hash, signature and key id, and
`verify_document` checks it with a public key alone (offline)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from safeward.assessments.models import ControlRun, ResourceResult
from safeward.audit.signing import SealSigner

FORMAT = "safeward-control-run/1"


def canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_document(run: ControlRun) -> dict[str, Any]:
    """The run's signed content, read back from its rows."""
    resources: dict[int, list[dict[str, Any]]] = {}
    # Plain tuples, not model instances: a run can hold 100,000 rows and
    # building instances was 3.5x the cost of the read (bench/README.md).
    rows = (
        ResourceResult.objects.filter(result__run=run)
        .order_by("result_id", "resource_type", "resource_id", "pk")
        .values_list(
            "result_id",
            "resource_type",
            "resource_id",
            "label",
            "passed",
            "evidence",
            "excepted",
            "exception_id",
        )
        .iterator(chunk_size=5000)
    )
    for result_id, kind, resource_id, label, passed, evidence, excepted, exception_id in rows:
        resources.setdefault(result_id, []).append(
            {
                "type": kind,
                "id": resource_id,
                "label": label,
                "passed": passed,
                "evidence": evidence,
                "excepted": excepted,
                "exception": exception_id,
            }
        )
    results = [
        {
            "control": result.control_id,
            "title": result.title,
            "maps": list(result.maps),
            "outcome": result.outcome,
            "resources_total": result.resources_total,
            "resources_failed": result.resources_failed,
            "resources_excepted": result.resources_excepted,
            "duration_ms": result.duration_ms,
            "error": result.error,
            "resources": resources.get(result.pk, []),
        }
        for result in run.results.order_by("control_id")
    ]
    return {
        "format": FORMAT,
        "run": run.pk,
        "trigger": run.trigger,
        "actor": run.actor_username or None,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "only": list(run.only),
        "counts": {
            "controls": run.controls_total,
            "passed": run.controls_passed,
            "failed": run.controls_failed,
            "error": run.controls_error,
            "not_applicable": run.controls_not_applicable,
            "resources": run.resources_total,
            "resources_failed": run.resources_failed,
        },
        "results": results,
    }


def digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()


def export(run: ControlRun) -> dict[str, Any]:
    """The snapshot file an auditor takes away: the document and its seal."""
    return {
        "document": run_document(run),
        "sha256": run.snapshot_sha256,
        "signature": base64.b64encode(bytes(run.signature)).decode("ascii"),
        "key_id": run.key_id,
    }


def verify_document(exported: Any, verifier: SealSigner) -> list[str]:
    """Problems with an exported snapshot (empty: it verifies)."""
    if not isinstance(exported, dict) or not isinstance(exported.get("document"), dict):
        return ["not a SafeWard control-run snapshot"]
    document = exported["document"]
    if document.get("format") != FORMAT:
        return [f"unknown snapshot format {document.get('format')!r}"]
    problems = []
    computed = digest(document)
    if computed != exported.get("sha256"):
        problems.append("the content does not match its SHA-256: it was edited")
    try:
        signature = base64.b64decode(str(exported.get("signature", "")), validate=True)
    except ValueError:
        return [*problems, "the signature is not base64"]
    if not verifier.verify(str(exported.get("key_id", "")), computed.encode("ascii"), signature):
        problems.append("the signature does not verify with the given key")
    return problems

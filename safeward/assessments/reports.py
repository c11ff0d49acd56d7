"""Framework reports from the computed tables (issue 18, ADR 0900): a PDF
made with WeasyPrint (title page, per-clause table, a bar chart as inline
SVG, failing resources, exceptions, the runs and their signing keys), CSV
exports and an OSCAL 1.1 assessment-results document.

Everything here reads the tables `scoring` computes and the stored results;
resources are named by internal id and label only (no PHI: the control-test
contract forbids it in labels and evidence)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from safeward import clock
from safeward.assessments import scoring, selectors
from safeward.assessments.models import ControlException, ControlResult, ControlRun, ResourceResult
from safeward.audit.csv_export import csv_safe

OSCAL_VERSION = "1.1.2"
# A fixed namespace: the same run and control give the same OSCAL uuids.
NAMESPACE = uuid.UUID("6b7f4c1e-18a0-4f0e-9d1a-0b5e5f1c0a18")
BAR_WIDTH = 360
BAR_HEIGHT = 16
BAR_GAP = 6
LABEL_WIDTH = 250


@dataclass
class FrameworkReport:
    table: scoring.FrameworkTable
    results: list[ControlResult]
    failing: list[ResourceResult]
    exceptions: list[ControlException]
    runs: list[ControlRun]
    generated_at: Any


def framework_report(key: str, maturity: Mapping[str, int] | None = None) -> FrameworkReport:
    scorer = scoring.Scorer(maturity=maturity)
    table = scorer.table(key)
    controls = sorted({c for row in table.rows for entry in row.entries for c in entry.controls})
    results = [scorer.results[c] for c in controls if c in scorer.results]
    failing = list(selectors.failing_resources(results=results))
    exceptions = [
        e for e in selectors.exceptions_list() if e.control_id in set(controls) and e.state != "revoked"
    ]
    runs = sorted({r.run for r in results}, key=lambda run: run.pk)
    return FrameworkReport(table, results, failing, exceptions, runs, clock.now())


def bar_chart(table: scoring.FrameworkTable) -> dict[str, Any]:
    """Geometry of a horizontal bar chart (one bar per clause, its score)."""
    bars = []
    for index, row in enumerate(table.rows):
        y = index * (BAR_HEIGHT + BAR_GAP)
        score = row.score
        width = round(BAR_WIDTH * (score or 0) / 100)
        tone = "none" if score is None else "good" if score >= 80 else "warn" if score >= 50 else "bad"
        colour = {"none": "none", "good": "#1a7f37", "warn": "#bf8700", "bad": "#cf222e"}[tone]
        label = f"{row.id} {row.title}"
        bars.append(
            {
                "y": y,
                "text_y": y + BAR_HEIGHT - 4,
                "width": width,
                "label": label if len(label) <= 38 else label[:37] + "…",
                "value": "not assessed" if score is None else f"{score:g} %",
                "value_x": LABEL_WIDTH + width + 6,
                "tone": tone,
                "colour": colour,
            }
        )
    return {
        "bars": bars,
        "label_width": LABEL_WIDTH,
        "bar_width": BAR_WIDTH,
        "bar_height": BAR_HEIGHT,
        "width": LABEL_WIDTH + BAR_WIDTH + 90,
        "height": max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP),
    }


def report_html(report: FrameworkReport) -> str:
    return render_to_string(
        "assessments/report.html", {"report": report, "table": report.table, "chart": bar_chart(report.table)}
    )


def report_pdf(report: FrameworkReport) -> bytes:
    from weasyprint import HTML

    pdf = HTML(string=report_html(report)).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return out.getvalue()


def clauses_csv(table: scoring.FrameworkTable) -> str:
    rows: list[list[Any]] = [
        ["clause", "title", "entries", "passing", "failing", "excepted", "assessed", "score"]
    ]
    for row in [*table.rows, table.total]:
        rows.append(
            [
                row.id or "all",
                row.title,
                row.count,
                row.passing,
                row.failing,
                row.excepted,
                row.assessed,
                "" if row.score is None else row.score,
            ]
        )
    return _csv(rows)


def entries_csv(table: scoring.FrameworkTable) -> str:
    rows: list[list[Any]] = [["clause", "entry", "title", "status", "source", "controls", "via", "maturity"]]
    for row in table.rows:
        for entry in row.entries:
            rows.append(
                [
                    row.id,
                    entry.id,
                    entry.title,
                    entry.status,
                    entry.source,
                    " ".join(entry.controls),
                    " ".join(f"{ref} ({provenance})" for ref, provenance in entry.via),
                    "" if entry.maturity is None else entry.maturity,
                ]
            )
    return _csv(rows)


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def _stamp(value: Any) -> str:
    return str(value.isoformat())


def _selection(table: scoring.FrameworkTable, ran: list[ControlResult]) -> dict[str, Any]:
    controls = {r.control_id for r in ran}
    ids = [
        {"control-id": entry.id}
        for row in table.rows
        for entry in row.entries
        if any(control in controls for control in entry.controls)
    ]
    return {"include-controls": ids} if ids else {"include-all": {}}


def oscal_assessment_results(report: FrameworkReport) -> dict[str, Any]:
    """An OSCAL 1.1 assessment-results document: one result per control run,
    an observation per control test, a finding per catalog entry it decided."""
    table = report.table
    now = report.generated_at
    entries_by_control: dict[str, list[scoring.EntryStatus]] = {}
    for row in table.rows:
        for entry in row.entries:
            for control in entry.controls:
                entries_by_control.setdefault(control, []).append(entry)
    failing_by_result: dict[int, list[ResourceResult]] = {}
    for resource in report.failing:
        failing_by_result.setdefault(resource.result_id, []).append(resource)
    results = []
    for run in report.runs or []:
        observations, findings = [], []
        ran = [r for r in report.results if r.run_id == run.pk]
        for result in ran:
            observation_uuid = _uuid("observation", run.pk, result.control_id)
            subjects = [
                {
                    "subject-uuid": _uuid("subject", resource.resource_type, resource.resource_id),
                    "type": "resource",
                    "title": f"{resource.resource_type} {resource.label}",
                    "props": [
                        {"name": "resource-id", "value": resource.resource_id},
                        {"name": "excepted", "value": "true" if resource.excepted else "false"},
                    ],
                }
                for resource in failing_by_result.get(result.pk, [])
            ]
            observation: dict[str, Any] = {
                "uuid": observation_uuid,
                "title": result.title,
                "description": f"Control test {result.control_id}: {result.get_outcome_display().lower()}, "
                f"{result.resources_failed} of {result.resources_total} resources failing.",
                "props": [
                    {"name": "control-test", "value": result.control_id},
                    {"name": "outcome", "value": result.outcome},
                ],
                "methods": ["TEST"],
                "collected": _stamp(run.started_at),
            }
            if subjects:
                observation["subjects"] = subjects
            observations.append(observation)
            for entry in entries_by_control.get(result.control_id, []):
                state = "satisfied" if entry.status in (scoring.PASS, scoring.EXCEPTED) else "not-satisfied"
                findings.append(
                    {
                        "uuid": _uuid("finding", run.pk, result.control_id, entry.ref),
                        "title": f"{entry.id} {entry.title}",
                        "description": f"{entry.ref} is {entry.status} ({entry.source}).",
                        "target": {
                            "type": "objective-id",
                            "target-id": entry.id,
                            "status": {"state": state},
                            "props": [{"name": "framework", "value": table.key}],
                        },
                        "related-observations": [{"observation-uuid": observation_uuid}],
                    }
                )
        results.append(
            {
                "uuid": _uuid("result", run.pk, table.key),
                "title": f"Control run {run.pk}",
                "description": f"SafeWard control run {run.pk} ({run.get_trigger_display().lower()}), "
                f"signed snapshot SHA-256 {run.snapshot_sha256} with key {run.key_id}.",
                "start": _stamp(run.started_at),
                "end": _stamp(run.finished_at or run.started_at),
                "props": [
                    {"name": "snapshot-sha256", "value": run.snapshot_sha256 or "unsigned"},
                    {"name": "signing-key", "value": run.key_id or "none"},
                ],
                "reviewed-controls": {"control-selections": [_selection(table, ran)]},
                "observations": observations,
                "findings": findings,
            }
        )
    return {
        "assessment-results": {
            "uuid": _uuid("assessment-results", table.key, _stamp(now)),
            "metadata": {
                "title": f"{table.name}: SafeWard control-test results",
                "last-modified": _stamp(now),
                "version": _stamp(now),
                "oscal-version": OSCAL_VERSION,
                "props": [{"name": "framework", "value": table.key}],
            },
            "import-ap": {"href": f"#safeward-control-tests-{table.key}"},
            "results": results
            or [
                {
                    "uuid": _uuid("result", "none", table.key),
                    "title": "No control run yet",
                    "description": "No control test has run.",
                    "start": _stamp(now),
                    "reviewed-controls": {"control-selections": [{"include-all": {}}]},
                }
            ],
        }
    }

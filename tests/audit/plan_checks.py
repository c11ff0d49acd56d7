"""Checks of the statements an audit read runs: which touch the event table,
and (PostgreSQL) that each reads its partitions by an index condition, never
a sequential scan or a walk of a whole index (issue 20, ADRs 1651, 1652)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db import connection


def event_reads(queries: list[dict[str, Any]]) -> list[str]:
    return [q["sql"] for q in queries if '"audit_auditevent"' in q["sql"]]


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


def assert_index_reads_only(reads: list[str]) -> None:
    """Every event partition a statement of `reads` touches is read by an
    index condition. A sequential scan is made the last resort for these
    EXPLAINs only (SET LOCAL, inside the test's transaction): the test's
    tables are tiny, and another test's ANALYZE may have taught the planner
    so, but the plan must still show an index range exists."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        try:
            for sql in reads:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                raw = cursor.fetchone()[0]
                plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
                for node in _scans(plan):
                    relation = node.get("Relation Name", "")
                    if not relation.startswith("audit_auditevent") or relation.startswith(
                        "audit_auditeventpatient"
                    ):
                        continue
                    assert node["Node Type"] != "Seq Scan", sql
                    # A Bitmap Heap Scan's condition is on its Bitmap Index Scan child.
                    if node["Node Type"] != "Bitmap Heap Scan":
                        assert "Index Cond" in node, (node["Node Type"], relation, sql)
        finally:
            cursor.execute("SET LOCAL enable_seqscan = on")

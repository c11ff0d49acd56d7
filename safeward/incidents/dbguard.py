"""The database's own refusal to rewrite or erase the chain of custody
(issue 19): a trigger on each engine refuses UPDATE and DELETE on
`incidents_custodyevent`, as the audit trail's guard does.

The guard is registered with `safeward.audit.dbguard.register_guard` (ADR
0941) so the test suite's flush and the demo snapshot lift it with the
audit guard; without that, SQLite's flush (a DELETE) was refused as soon as
one custody event existed."""

from __future__ import annotations

TABLE = "incidents_custodyevent"
MESSAGE = "the chain of custody is append-only"

SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{kind} BEFORE {kind.upper()} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    for kind in ("update", "delete")
]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_{kind}" for kind in ("update", "delete")]
POSTGRES_INSTALL = [
    "CREATE OR REPLACE FUNCTION incidents_custody_refuse() RETURNS trigger AS $$ "
    f"BEGIN RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql",
    f"DROP TRIGGER IF EXISTS {TABLE}_guard ON {TABLE}",
    f"CREATE TRIGGER {TABLE}_guard BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION incidents_custody_refuse()",
]
POSTGRES_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_guard ON {TABLE}"]


def install_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return POSTGRES_INSTALL
    if vendor == "sqlite":
        return SQLITE_INSTALL
    raise NotImplementedError(f"no custody guard for the {vendor} database")


def remove_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return POSTGRES_REMOVE
    if vendor == "sqlite":
        return SQLITE_REMOVE
    raise NotImplementedError(f"no custody guard for the {vendor} database")

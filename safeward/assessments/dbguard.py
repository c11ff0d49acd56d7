"""The database's own refusal to edit a signed control run (ADR 0941).

Once `services._sign` has written a run's seal (its `key_id`), a trigger on
each engine refuses UPDATE and DELETE of that run, of its results and of
their resource rows. Before the seal the runner may still write the run
(the seal itself is an UPDATE of an unsigned run). The signature stays the
proof: a database owner can drop the trigger, and `safeward controls
verify` then still catches the edit. INSERT is not guarded (a row added to
a signed run changes the signed document, which the signature check
catches) so the demo snapshot can write back seeded runs; TRUNCATE is left
to the test suite's flush, which lifts the guard through
`safeward.audit.dbguard.suspended` as it does for the audit tables."""

from __future__ import annotations

RUN = "assessments_controlrun"
RESULT = "assessments_controlresult"
RESOURCE = "assessments_resourceresult"
MESSAGE = "a signed control run is read-only"

# A row belongs to a signed run when that run's seal (key_id) is set.
_RUN_SIGNED = "OLD.key_id <> ''"
_RESULT_SIGNED = f"EXISTS (SELECT 1 FROM {RUN} r WHERE r.id = OLD.run_id AND r.key_id <> '')"  # noqa: S608
_RESOURCE_SIGNED = (
    f"EXISTS (SELECT 1 FROM {RESULT} c JOIN {RUN} r ON r.id = c.run_id "  # noqa: S608
    "WHERE c.id = OLD.result_id AND r.key_id <> '')"
)
_GUARDED = ((RUN, _RUN_SIGNED), (RESULT, _RESULT_SIGNED), (RESOURCE, _RESOURCE_SIGNED))

SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_signed_no_{kind} BEFORE {kind.upper()} ON {table} "
    f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    for table, condition in _GUARDED
    for kind in ("update", "delete")
]
SQLITE_REMOVE = [
    f"DROP TRIGGER IF EXISTS {table}_signed_no_{kind}"
    for table, _ in _GUARDED
    for kind in ("update", "delete")
]
POSTGRES_INSTALL = [
    *(
        f"""
        CREATE OR REPLACE FUNCTION {table}_signed_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {condition} THEN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END $$
        """
        for table, condition in _GUARDED
    ),
    *(
        f"CREATE OR REPLACE TRIGGER {table}_signed_guard BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_signed_refuse()"
        for table, _ in _GUARDED
    ),
]
POSTGRES_REMOVE = [f"DROP TRIGGER IF EXISTS {table}_signed_guard ON {table}" for table, _ in _GUARDED]


def install_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return POSTGRES_INSTALL
    if vendor == "sqlite":
        return SQLITE_INSTALL
    raise NotImplementedError(f"no signed-run guard for the {vendor} database")


def remove_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return POSTGRES_REMOVE
    if vendor == "sqlite":
        return SQLITE_REMOVE
    raise NotImplementedError(f"no signed-run guard for the {vendor} database")

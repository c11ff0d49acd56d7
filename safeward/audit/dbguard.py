"""The database's own refusal to change history.

On both engines a trigger refuses UPDATE and DELETE on the audit tables
(events, seals, archives), and on PostgreSQL TRUNCATE as well. The one
exception is deleting events that a signed archive already holds (retention).
The trigger stops the application and its owner role from rewriting the
trail by mistake or by bug; a database superuser can still switch it off,
which is what sealing and the external checkpoints are for (docs/audit.md).

Migration 0004 installs these statements and migration 0005 the same guard
on the patient index of multi-patient events (`audit_auditeventpatient`,
deletable only for archived events); `install`/`suspended` exist for the
test suite's `flush` (see management/commands/flush.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper

EVENT_TABLE = "audit_auditevent"
SEAL_TABLE = "audit_auditseal"
ARCHIVE_TABLE = "audit_auditarchive"
LINK_TABLE = "audit_auditeventpatient"
APPEND_ONLY_TABLES = (EVENT_TABLE, SEAL_TABLE, ARCHIVE_TABLE)

_ARCHIVED = f"(SELECT COALESCE(MAX(max_event_id), 0) FROM {ARCHIVE_TABLE})"  # noqa: S608 - constant names

SQLITE_INSTALL = [
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit table {table} is append-only'); END"
        for table in APPEND_ONLY_TABLES
    ),
    f"CREATE TRIGGER IF NOT EXISTS {EVENT_TABLE}_no_delete BEFORE DELETE ON {EVENT_TABLE} "
    f"WHEN OLD.id > {_ARCHIVED} "
    f"BEGIN SELECT RAISE(ABORT, 'audit table {EVENT_TABLE} is append-only'); END",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit table {table} is append-only'); END"
        for table in (SEAL_TABLE, ARCHIVE_TABLE)
    ),
]
SQLITE_REMOVE = [
    f"DROP TRIGGER IF EXISTS {table}_{kind}"
    for table in APPEND_ONLY_TABLES
    for kind in ("no_update", "no_delete")
]

POSTGRES_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION safeward_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit table % is append-only', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION safeward_audit_event_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.id <= {_ARCHIVED} THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit table % is append-only', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    *(
        f"CREATE OR REPLACE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION safeward_audit_refuse()"
        for table in APPEND_ONLY_TABLES
    ),
    f"CREATE OR REPLACE TRIGGER {EVENT_TABLE}_no_delete BEFORE DELETE ON {EVENT_TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION safeward_audit_event_delete()",
    *(
        f"CREATE OR REPLACE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION safeward_audit_refuse()"
        for table in (SEAL_TABLE, ARCHIVE_TABLE)
    ),
    *(
        f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION safeward_audit_refuse()"
        for table in APPEND_ONLY_TABLES
    ),
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS {table}_{kind} ON {table}"
    for table in APPEND_ONLY_TABLES
    for kind in ("no_update", "no_delete", "no_truncate")
]


# The patient index of multi-patient events: never changed, deleted only with
# its archived event (the same rule as the events themselves).
LINK_SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS {LINK_TABLE}_no_update BEFORE UPDATE ON {LINK_TABLE} "
    f"BEGIN SELECT RAISE(ABORT, 'audit table {LINK_TABLE} is append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS {LINK_TABLE}_no_delete BEFORE DELETE ON {LINK_TABLE} "
    f"WHEN OLD.event_id > {_ARCHIVED} "
    f"BEGIN SELECT RAISE(ABORT, 'audit table {LINK_TABLE} is append-only'); END",
]
LINK_SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {LINK_TABLE}_{kind}" for kind in ("no_update", "no_delete")]
LINK_POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION safeward_audit_link_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.event_id <= {_ARCHIVED} THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit table % is append-only', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    f"CREATE OR REPLACE TRIGGER {LINK_TABLE}_no_update BEFORE UPDATE ON {LINK_TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION safeward_audit_refuse()",
    f"CREATE OR REPLACE TRIGGER {LINK_TABLE}_no_delete BEFORE DELETE ON {LINK_TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION safeward_audit_link_delete()",
    f"CREATE OR REPLACE TRIGGER {LINK_TABLE}_no_truncate BEFORE TRUNCATE ON {LINK_TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION safeward_audit_refuse()",
]
LINK_POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS {LINK_TABLE}_{kind} ON {LINK_TABLE}"
    for kind in ("no_update", "no_delete", "no_truncate")
]


def link_install_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return LINK_POSTGRES_INSTALL
    if vendor == "sqlite":
        return LINK_SQLITE_INSTALL
    raise NotImplementedError(f"no append-only guard for the {vendor} database")


def link_remove_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return LINK_POSTGRES_REMOVE
    if vendor == "sqlite":
        return LINK_SQLITE_REMOVE
    raise NotImplementedError(f"no append-only guard for the {vendor} database")


def install_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return POSTGRES_INSTALL
    if vendor == "sqlite":
        return SQLITE_INSTALL
    raise NotImplementedError(f"no append-only guard for the {vendor} database")


def remove_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return POSTGRES_REMOVE
    if vendor == "sqlite":
        return SQLITE_REMOVE
    raise NotImplementedError(f"no append-only guard for the {vendor} database")


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in install_statements(connection.vendor) + link_install_statements(connection.vendor):
            cursor.execute(statement)


# Other apps' append-only guards (install, remove: vendor -> statements),
# registered in their AppConfig.ready, lifted with the audit guard for a flush.
_OTHER_GUARDS: list[tuple[Callable[[str], list[str]], Callable[[str], list[str]]]] = []


def register_guard(install: Callable[[str], list[str]], remove: Callable[[str], list[str]]) -> None:
    if (install, remove) not in _OTHER_GUARDS:
        _OTHER_GUARDS.append((install, remove))


@contextmanager
def suspended(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Drop the guard (and the registered ones) for the block and put them
    back afterwards. Used only by the test suite's database flush and demo
    snapshot; never by the application."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        for statement in remove_statements(vendor) + link_remove_statements(vendor):
            cursor.execute(statement)
        for _, remove in _OTHER_GUARDS:
            for statement in remove(vendor):
                cursor.execute(statement)
    try:
        yield
    finally:
        install(connection)
        with connection.cursor() as cursor:
            for add, _ in _OTHER_GUARDS:
                for statement in add(vendor):
                    cursor.execute(statement)

"""HR integration: a batch of workforce changes (a CSV export of the HR
system, or the same rows through the REST API), validated as a whole.

Every row is checked before anything is written. If any row is bad, the
answer lists each bad row with its line (CSV) or index (API) and the reason,
and nothing is applied. A clean batch is applied in one transaction.

Columns (header required, order free):
    employee_number, first_name, last_name, kind, department, position,
    manager, start_date, end_date
A row for an unknown employee number hires that person (first_name,
last_name and start_date required); a row for a known one changes the
fields it fills (an empty cell leaves the field as it is). A new position
changes roles per the position mapping; an end date schedules the
termination for midnight after that day.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db import transaction

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.identity.errors import NotPermitted
from safeward.identity.models import Department, User
from safeward.identity.permissions import Perm
from safeward.workforce import services
from safeward.workforce.models import Person, Position

COLUMNS = (
    "employee_number",
    "first_name",
    "last_name",
    "kind",
    "department",
    "position",
    "manager",
    "start_date",
    "end_date",
)
MAX_ROWS = 5000
MAX_BYTES = 1024 * 1024
_EMPLOYEE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class RowError:
    line: int  # CSV line number, or the item's index for the API
    reason: str


@dataclass(frozen=True)
class Change:
    line: int
    employee_number: str
    first_name: str
    last_name: str
    kind: str
    department: Department | None
    position: Position | None
    manager_number: str
    start_date: dt.date | None
    end_date: dt.date | None


@dataclass
class ImportResult:
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    position_changes: int = 0
    terminations_scheduled: int = 0
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "position_changes": self.position_changes,
            "terminations_scheduled": self.terminations_scheduled,
        }


def rows_from_csv(data: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """Parse the file; returns (line, row) pairs and file-level errors."""
    if len(data) > MAX_BYTES:
        return [], [RowError(0, f"the file is larger than {MAX_BYTES // 1024} KiB")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(0, "the file is not UTF-8 text")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        return [], [RowError(1, "the file is empty")]
    except csv.Error:
        return [], [RowError(1, "the header is not valid CSV")]
    unknown = [c for c in header if c not in COLUMNS]
    if "employee_number" not in header or unknown or len(set(header)) != len(header):
        reason = "the header must name known columns once each, including employee_number"
        if unknown:
            reason += " (unknown: " + ", ".join(sorted(unknown))[:120] + ")"
        return [], [RowError(1, reason)]
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error:
            errors.append(RowError(reader.line_num, "not valid CSV"))
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            errors.append(RowError(line, f"expected {len(header)} fields, found {len(values)}"))
            continue
        rows.append((line, {column: value.strip() for column, value in zip(header, values, strict=True)}))
        if len(rows) > MAX_ROWS:
            return [], [RowError(line, f"more than {MAX_ROWS} rows; split the file")]
    return rows, errors


def _date(value: str, column: str, errors: list[str]) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.append(f"{column} must be a date written YYYY-MM-DD")
        return None


def validate(rows: Iterable[tuple[int, Mapping[str, object]]]) -> tuple[list[Change], list[RowError]]:
    """Check every row against the database and the rest of the batch."""
    materialised = [
        (line, {k: str(v if v is not None else "").strip() for k, v in row.items()}) for line, row in rows
    ]
    numbers_in_batch = {row.get("employee_number", "") for _, row in materialised}
    existing = {
        p.employee_number: p
        for p in Person.objects.filter(
            employee_number__in=numbers_in_batch | {row.get("manager", "") for _, row in materialised}
        )
    }
    departments = {d.code: d for d in Department.objects.all()}
    positions = {p.code: p for p in Position.objects.all()}
    kinds = set(Person.Kind.values)
    seen: set[str] = set()
    changes: list[Change] = []
    errors: list[RowError] = []
    for line, row in materialised:
        problems: list[str] = []
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            problems.append("unknown field(s): " + ", ".join(unknown)[:120])
        number = row.get("employee_number", "")
        if not _EMPLOYEE_NUMBER.match(number):
            problems.append("employee_number is missing or not 1-32 letters, digits, - or _")
        elif number in seen:
            problems.append(f"employee {number} appears more than once in this batch")
        seen.add(number)
        person = existing.get(number)
        first, last = row.get("first_name", ""), row.get("last_name", "")
        for column, value in (("first_name", first), ("last_name", last)):
            if len(value) > 80:
                problems.append(f"{column} is longer than 80 characters")
        kind = row.get("kind", "")
        if kind and kind not in kinds:
            problems.append("kind must be one of " + ", ".join(sorted(kinds)))
        department = None
        if code := row.get("department", ""):
            department = departments.get(code)
            if department is None:
                problems.append(f"unknown department code {code[:40]!r}")
        position = None
        if code := row.get("position", ""):
            position = positions.get(code)
            if position is None:
                problems.append(f"unknown position code {code[:40]!r}")
        manager = row.get("manager", "")
        if manager:
            if manager == number:
                problems.append("a person cannot be their own manager")
            elif manager not in existing and manager not in numbers_in_batch:
                problems.append(f"unknown manager {manager[:32]!r}")
        start = _date(row.get("start_date", ""), "start_date", problems)
        end = _date(row.get("end_date", ""), "end_date", problems)
        if person is None:
            for column, value in (("first_name", first), ("last_name", last)):
                if not value:
                    problems.append(f"{column} is required for a new person")
            if start is None and "start_date must" not in " ".join(problems):
                problems.append("start_date is required for a new person")
        elif person.status == Person.Status.TERMINATED:
            problems.append(f"employee {number} has left; rehire under a new employee number")
        effective_start = start or (person.start_date if person else None)
        if end is not None and effective_start is not None and end < effective_start:
            problems.append("end_date is before start_date")
        if problems:
            errors.extend(RowError(line, p) for p in problems)
            continue
        changes.append(Change(line, number, first, last, kind, department, position, manager, start, end))
    return changes, errors


def _require(actor: User | None) -> None:
    if actor is not None and not actor.has_perm(Perm.WORKFORCE_PERSON_MANAGE):
        raise NotPermitted(f"{Perm.WORKFORCE_PERSON_MANAGE} is required")


def changes_apply(
    *, actor: User | None, rows: Iterable[tuple[int, Mapping[str, object]]], source: str, digest: str = ""
) -> ImportResult:
    """Validate the whole batch; apply all of it or none of it."""
    _require(actor)
    changes, errors = validate(rows)
    result = ImportResult(errors=errors, rows=len(changes) + len({e.line for e in errors}))
    if errors:
        with transaction.atomic():
            audit_record(
                action=Action.CREATE,
                outcome=Outcome.DENIED,
                actor=actor,
                resource_type="WorkforceImport",
                detail={"source": source, "bad_rows": len({e.line for e in errors}), "sha256": digest},
            )
        return result
    with transaction.atomic():
        _apply(actor=actor, changes=changes, result=result)
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type="WorkforceImport",
            detail={"source": source, "sha256": digest, **result.summary()},
        )
    return result


def _apply(*, actor: User | None, changes: list[Change], result: ImportResult) -> None:
    people: dict[str, Person] = {}
    for change in changes:
        person = Person.objects.filter(employee_number=change.employee_number).first()
        if person is None:
            assert change.start_date is not None
            person = services.person_create(
                actor=actor,
                employee_number=change.employee_number,
                first_name=change.first_name,
                last_name=change.last_name,
                kind=change.kind or Person.Kind.EMPLOYEE,
                department=change.department,
                position=change.position,
                start_date=change.start_date,
            )
            result.created += 1
        else:
            services.person_update(
                actor=actor,
                person=person,
                first_name=change.first_name or None,
                last_name=change.last_name or None,
                kind=change.kind or None,
                department=change.department,
            )
            if change.position is not None and change.position.pk != person.position_id:
                services.person_position_change(
                    actor=actor, person=person, position=change.position, reason="HR import"
                )
                result.position_changes += 1
            result.updated += 1
        people[change.employee_number] = person
    for change in changes:
        if change.manager_number:
            manager = people.get(change.manager_number) or Person.objects.get(
                employee_number=change.manager_number
            )
            person = people[change.employee_number]
            if person.manager_id != manager.pk:
                services.person_update(actor=actor, person=person, manager=manager)
    for change in changes:
        person = Person.objects.get(pk=people[change.employee_number].pk)
        if change.end_date is not None and change.end_date != person.end_date:
            services.termination_schedule(
                actor=actor,
                person=person,
                effective_at=services.end_of_last_day(change.end_date),
                reason="HR import: end date",
            )
            result.terminations_scheduled += 1


def csv_import(*, actor: User | None, data: bytes, source: str = "csv") -> ImportResult:
    digest = hashlib.sha256(data).hexdigest()
    rows, file_errors = rows_from_csv(data)
    if file_errors and not rows:
        _require(actor)
        with transaction.atomic():
            audit_record(
                action=Action.CREATE,
                outcome=Outcome.DENIED,
                actor=actor,
                resource_type="WorkforceImport",
                detail={"source": source, "bad_rows": len(file_errors), "sha256": digest},
            )
        return ImportResult(errors=file_errors)
    if file_errors:
        # Rows that did not even parse: report them together with the rest.
        _require(actor)
        _, row_errors = validate(rows)
        errors = sorted([*file_errors, *row_errors], key=lambda e: e.line)
        with transaction.atomic():
            audit_record(
                action=Action.CREATE,
                outcome=Outcome.DENIED,
                actor=actor,
                resource_type="WorkforceImport",
                detail={"source": source, "bad_rows": len({e.line for e in errors}), "sha256": digest},
            )
        return ImportResult(errors=errors, rows=len(rows) + len(file_errors))
    result = changes_apply(actor=actor, rows=rows, source=source, digest=digest)
    result.errors.sort(key=lambda e: e.line)
    return result

"""Import an existing asset inventory (a CSV export of a spreadsheet or a
CMDB), validated as a whole: every row is checked with the same form as the
pages, and if any row is bad the answer lists each bad row with its line and
reason and nothing is written. A clean file is applied in one transaction: a
row whose name is registered updates that asset, any other row registers one.

Columns (header required, order free; only name and kind are required):
    name, kind, description, owner, custodian (employee numbers), location,
    hosting, vendor, network_zone, classification, phi_categories,
    record_count, encrypted_at_rest, encrypted_at_rest_evidence,
    encrypted_in_transit, encrypted_in_transit_evidence, retention,
    criticality, rto_minutes, rpo_minutes, clinical_services, departments
    (department names), depends_on (asset names, in the file or registered),
    last_reviewed_on, next_review_due, last_assessed_on, next_assessment_due
Lists inside a cell are separated by ";". Values are the codes the API uses
(kind "file_share", classification "highly_sensitive", ...)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from safeward.assets import services
from safeward.assets.forms import AssetForm, person_choices
from safeward.assets.models import Asset
from safeward.identity.models import User
from safeward.identity.selectors import department_choices
from safeward.workforce.selectors import people_list

COLUMNS = (
    "name",
    "kind",
    "description",
    "owner",
    "custodian",
    "location",
    "hosting",
    "vendor",
    "network_zone",
    "classification",
    "phi_categories",
    "record_count",
    "encrypted_at_rest",
    "encrypted_at_rest_evidence",
    "encrypted_in_transit",
    "encrypted_in_transit_evidence",
    "retention",
    "criticality",
    "rto_minutes",
    "rpo_minutes",
    "clinical_services",
    "departments",
    "depends_on",
    "last_reviewed_on",
    "next_review_due",
    "last_assessed_on",
    "next_assessment_due",
)
REQUIRED = ("name", "kind")
# The model's defaults for cells left empty.
DEFAULTS = {
    "hosting": Asset.Hosting.ON_PREMISES,
    "encrypted_at_rest": Asset.Protection.UNKNOWN,
    "encrypted_in_transit": Asset.Protection.UNKNOWN,
    "criticality": Asset.Criticality.MODERATE,
}
# CSV column -> form field, where they differ.
RENAMED = {"vendor": "vendor_name", "record_count": "record_count_estimate"}
MAX_ROWS = 2000
MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class RowError:
    line: int  # CSV line number (the header is line 1)
    reason: str


@dataclass(frozen=True)
class Row:
    line: int
    existing_id: int | None
    values: dict[str, Any]
    depends_on: tuple[str, ...]


@dataclass
class ImportResult:
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _decode(data: bytes) -> tuple[list[dict[str, str]] | None, RowError | None]:
    if len(data) > MAX_BYTES:
        return None, RowError(0, f"The file is larger than {MAX_BYTES // 1024} KiB; split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, RowError(0, "The file is not UTF-8 text; save the CSV as UTF-8.")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames or []
        unknown = [name for name in header if name not in COLUMNS]
        missing = [name for name in REQUIRED if name not in header]
        if not header:
            return None, RowError(1, "The file is empty: the first line must name the columns.")
        if unknown or missing:
            problem = f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}"
            return None, RowError(1, f"The header has an {problem}; columns are: {', '.join(COLUMNS)}.")
        rows: list[dict[str, str]] = []
        for row in reader:
            if len(rows) >= MAX_ROWS:
                return None, RowError(reader.line_num, f"More than {MAX_ROWS} rows; split the file.")
            if None in row:
                return None, RowError(reader.line_num, "The row has more cells than the header.")
            rows.append({key: (value or "").strip() for key, value in row.items()})
            rows[-1]["__line__"] = str(reader.line_num)
    except csv.Error as error:
        return None, RowError(0, f"The CSV cannot be read ({error}).")
    return rows, None


def _form_data(
    cells: Mapping[str, str], *, people: Mapping[str, int], departments: Mapping[str, int]
) -> tuple[dict[str, Any], str | None]:
    data: dict[str, Any] = {}
    for column in COLUMNS:
        cell = cells.get(column, "")
        if column in ("owner", "custodian"):
            if cell and cell not in people:
                return {}, f"{column}: no active person with employee number {cell!r}"
            data[f"{column}_person_id"] = str(people[cell]) if cell else ""
        elif column == "departments":
            unknown = [name for name in _split(cell) if name.casefold() not in departments]
            if unknown:
                return {}, f"departments: no department named {unknown[0]!r}"
            data["department_ids"] = [str(departments[name.casefold()]) for name in _split(cell)]
        elif column == "phi_categories":
            data["phi_categories"] = _split(cell)
        elif column == "clinical_services":
            data["clinical_services"] = ", ".join(_split(cell))
        elif column != "depends_on":
            data[RENAMED.get(column, column)] = cell or DEFAULTS.get(column, "")
    return data, None


def _form_errors(form: AssetForm) -> str:
    messages = []
    for name, errors in form.errors.items():
        label = {v: k for k, v in RENAMED.items()}.get(name, name).replace("_person_id", "")
        messages.append(f"{label}: {' '.join(str(e) for e in errors)}")
    return "; ".join(messages)


def csv_import(*, actor: User | None, data: bytes) -> ImportResult:
    result = ImportResult()
    rows, error = _decode(data)
    if error is not None or rows is None:
        result.errors.append(error or RowError(0, "The file cannot be read."))
        return result
    people = {number: pk for pk, number in people_list(status="active").values_list("pk", "employee_number")}
    departments = {name.casefold(): pk for pk, name in department_choices()}
    registered = {
        name: (pk, source) for pk, name, source in Asset.objects.values_list("pk", "name", "source")
    }
    choices = person_choices()
    valid: list[Row] = []
    names_in_file: dict[str, int] = {}
    for cells in rows:
        line = int(cells["__line__"])
        name = cells.get("name", "")
        if name in names_in_file:
            result.errors.append(RowError(line, f"name: {name!r} is also on line {names_in_file[name]}"))
            continue
        names_in_file[name] = line
        existing = registered.get(name)
        if existing is not None and existing[1] == Asset.Source.SAFEWARD:
            result.errors.append(
                RowError(line, f"name: {name!r} is one of SafeWard's own stores, kept by SafeWard")
            )
            continue
        form_data, problem = _form_data(cells, people=people, departments=departments)
        if problem is not None:
            result.errors.append(RowError(line, problem))
            continue
        instance = Asset.objects.get(pk=existing[0]) if existing else None
        form = AssetForm(data=form_data, instance=instance, people=choices)
        if not form.is_valid():
            result.errors.append(RowError(line, _form_errors(form)))
            continue
        valid.append(
            Row(
                line,
                existing[0] if existing else None,
                form.asset_values(),
                tuple(_split(cells.get("depends_on", ""))),
            )
        )
    for row in valid:
        for target in row.depends_on:
            if target == row.values["name"]:
                result.errors.append(RowError(row.line, "depends_on: an asset cannot depend on itself"))
            elif target not in names_in_file and target not in registered:
                result.errors.append(RowError(row.line, f"depends_on: no asset named {target!r}"))
    if result.errors:
        result.errors.sort(key=lambda e: e.line)
        return result
    with transaction.atomic():
        ids: dict[str, int] = {name: pk for name, (pk, _) in registered.items()}
        for row in valid:
            if row.existing_id is None:
                asset = services.asset_create(actor=actor, values=row.values, source=Asset.Source.IMPORTED)
                result.created += 1
            else:
                asset = services.asset_update(actor=actor, asset_id=row.existing_id, values=row.values)
                result.updated += 1
            ids[asset.name] = asset.pk
        for row in valid:
            if row.depends_on:
                services.asset_dependencies_set(
                    actor=actor,
                    asset_id=ids[row.values["name"]],
                    depends_on_ids=[ids[n] for n in row.depends_on],
                )
    return result

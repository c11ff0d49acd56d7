"""MDS2 (ANSI/NEMA HN 1-2019): read a manufacturer's filled statement (xlsx or
CSV) and derive the compensating controls a device of that model needs.

The derivation is data (RULES): (question id, answer) -> the controls it
calls for. A rule fires on the exact answer; a statement that leaves a
question out derives nothing from it. Tests walk every rule."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

from safeward.devices.models import CompensatingControl, Mds2Answer

Kind = CompensatingControl.Kind
Test = CompensatingControl.Test
Remediation = CompensatingControl.Remediation

# HICP Table 12: interim mitigation within 30 days, vendor remediation within 60.
EXPIRY_DAYS = {Remediation.INTERIM: 30, Remediation.VENDOR: 60}

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
MAX_XLSX_UNCOMPRESSED = 30 * 1024 * 1024
QUESTION_ID = re.compile(r"^[A-Z]{3,4}-\d{1,2}(\.\d{1,2}){0,2}$")
ANSWERS = {"yes": Mds2Answer.Value.YES, "no": Mds2Answer.Value.NO, "n/a": Mds2Answer.Value.NA,
           "na": Mds2Answer.Value.NA}  # fmt: skip


@dataclass(frozen=True)
class Derived:
    kind: str
    title: str
    remediation: str = Remediation.INTERIM
    test: str = Test.NONE


@dataclass(frozen=True)
class Rule:
    question_id: str
    answer: str  # Mds2Answer.Value
    why: str
    controls: tuple[Derived, ...]


RULES: tuple[Rule, ...] = (
    Rule(
        "STCF-1",
        Mds2Answer.Value.NO,
        "No encryption of data at rest",
        (
            Derived(Kind.ISOLATED_SEGMENT, "Keep on an isolated clinical-device segment", test=Test.ISOLATED),
            Derived(Kind.PHYSICAL, "Physical control: locked room or cable lock, tracked custody"),
            Derived(Kind.SANITIZE_AT_DISPOSAL, "Sanitize storage (NIST SP 800-88) before disposal"),
        ),
    ),
    Rule(
        "CSUP-2.2",
        Mds2Answer.Value.YES,
        "Only the vendor may install patches",
        (Derived(Kind.VENDOR_TICKET, "Vendor patch ticket clock", remediation=Remediation.VENDOR),),
    ),
    Rule(
        "PAUT-8",
        Mds2Answer.Value.NO,
        "No multi-factor authentication for remote access",
        (Derived(Kind.JUMP_HOST, "Remote access only through the jump host"),),
    ),
    Rule(
        "MLDP-2",
        Mds2Answer.Value.NO,
        "Cannot host anti-malware",
        (
            Derived(
                Kind.ANTI_MALWARE, "No anti-malware: isolate and allow-list its flows", test=Test.ISOLATED
            ),
        ),
    ),
    Rule(
        "MLDP-3",
        Mds2Answer.Value.NO,
        "No compensating controls offered for the missing anti-malware",
        (Derived(Kind.MONITORING, "Monitor the device's traffic for anomalies"),),
    ),
    Rule(
        "RDMP-4",
        Mds2Answer.Value.NO,
        "No end-of-life plan from the manufacturer",
        (Derived(Kind.OTHER, "Plan the replacement before end of support", remediation=Remediation.VENDOR),),
    ),
)


def derive(answers: dict[str, str]) -> list[tuple[Rule, Derived]]:
    """The controls `answers` (question id -> Mds2Answer.Value) call for, in RULES order."""
    return [
        (rule, derived)
        for rule in RULES
        if answers.get(rule.question_id) == rule.answer
        for derived in rule.controls
    ]


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class Parsed:
    manufacturer: str = ""
    model: str = ""
    version: str = ""
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (value, note)
    errors: list[RowError] = field(default_factory=list)


def _cell(value: object) -> str:
    return "" if value is None else str(value).strip()


def _header_columns(row: list[str]) -> tuple[int, int, int] | None:
    lowered = [cell.casefold() for cell in row]
    qid = next((i for i, c in enumerate(lowered) if c in ("question id", "question_id", "id")), None)
    answer = next((i for i, c in enumerate(lowered) if c in ("answer", "response", "value")), None)
    note = next((i for i, c in enumerate(lowered) if c.startswith("note") or c == "comments"), -1)
    if qid is None or answer is None:
        return None
    return qid, answer, note


def _read_rows(rows: list[tuple[int, list[str]]]) -> Parsed:
    parsed = Parsed()
    columns = None
    for line, row in rows:
        if columns is None:
            columns = _header_columns(row)
            continue
        qid_at, answer_at, note_at = columns
        qid = row[qid_at].upper() if qid_at < len(row) else ""
        if not qid:
            continue
        answer = row[answer_at] if answer_at < len(row) else ""
        note = row[note_at][:2000] if 0 <= note_at < len(row) else ""
        if qid in ("DOC-1", "DOC-3", "DOC-4"):
            value = answer or note
            if qid == "DOC-1":
                parsed.manufacturer = value[:200]
            elif qid == "DOC-3":
                parsed.model = value[:200]
            else:
                parsed.version = value[:100]
            continue
        if not QUESTION_ID.match(qid):
            parsed.errors.append(RowError(line, f"{qid[:20]!r} is not an MDS2 question id (like STCF-1)"))
            continue
        answered = ANSWERS.get(answer.casefold())
        if answered is None:
            parsed.errors.append(
                RowError(line, f"{qid}: the answer must be Yes, No or N/A, not {answer[:20]!r}")
            )
            continue
        if qid in parsed.answers:
            parsed.errors.append(RowError(line, f"{qid} is answered twice"))
            continue
        parsed.answers[qid] = (answered, note)
    if columns is None:
        parsed.errors.append(RowError(1, "No header row with 'Question ID' and 'Answer' columns."))
    elif not parsed.answers and not parsed.errors:
        parsed.errors.append(RowError(0, "The statement answers no question."))
    return parsed


def parse(data: bytes, *, filename: str = "") -> Parsed:
    if len(data) > MAX_BYTES:
        return Parsed(errors=[RowError(0, f"The file is larger than {MAX_BYTES // 1024} KiB.")])
    if data[:2] == b"PK" or filename.lower().endswith(".xlsx"):
        return _parse_xlsx(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Parsed(errors=[RowError(0, "The file is neither an xlsx workbook nor UTF-8 CSV text.")])
    rows: list[tuple[int, list[str]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        for row in reader:
            if len(rows) >= MAX_ROWS:
                return Parsed(errors=[RowError(reader.line_num, f"More than {MAX_ROWS} rows.")])
            rows.append((reader.line_num, [cell.strip() for cell in row]))
    except csv.Error as error:
        return Parsed(errors=[RowError(0, f"The CSV cannot be read ({error}).")])
    return _read_rows(rows)


def _parse_xlsx(data: bytes) -> Parsed:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNCOMPRESSED:
                return Parsed(errors=[RowError(0, "The workbook expands to too much data.")])
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        return Parsed(errors=[RowError(0, "The file is not a readable xlsx workbook.")])
    try:
        best: Parsed | None = None
        for sheet in workbook.worksheets:
            rows: list[tuple[int, list[str]]] = []
            for number, row in enumerate(sheet.iter_rows(values_only=True, max_col=12), start=1):
                if number > MAX_ROWS:
                    return Parsed(errors=[RowError(number, f"More than {MAX_ROWS} rows in a sheet.")])
                rows.append((number, [_cell(value) for value in row]))
            parsed = _read_rows(rows)
            if (parsed.answers and (best is None or len(parsed.answers) > len(best.answers))) or (
                best is None and len(workbook.worksheets) == 1
            ):
                best = parsed
        return best or Parsed(errors=[RowError(1, "No sheet has 'Question ID' and 'Answer' columns.")])
    finally:
        workbook.close()

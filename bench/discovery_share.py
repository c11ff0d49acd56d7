"""PHI discovery scanner on a realistic hospital file share (issue 13, ADR 1642).

Earlier benches (discovery_throughput.py, discovery_cpu.py) scanned files
where every row is a patient record. A hospital share is mostly ordinary
documents: staff rosters, supply inventories, invoices, policies and lab
equipment logs, with PHI in a small share of the files. This bench builds
such a share, reproducibly from a seed, as CSV / TXT / XLSX / DOCX / PDF in
one folder per format; about 3 % of the files hold PHI (some MRNs, national
ids and phones of our own patients, SSNs of strangers).

Then, over the same files and in the same run, it times `grep -E -r -c` of
the SSN pattern against the scanner engine (walk, hash, parse, detectors),
per format and on the whole share, and the whole `scan_run` (engine + keyed
hashes of every candidate + look-ups against the N patients' blind indexes
+ findings), in one process and in worker processes, with CPU seconds
(`getrusage`, this process and its children) and the load average.

    .venv/bin/python bench/discovery_share.py --work /tmp/share-bench --mb 1000 --patients 1000000
    .venv/bin/python bench/discovery_share.py --work /tmp/share-bench --profile xlsx
    .venv/bin/python bench/discovery_share.py --work /tmp/share-bench --fingerprint out.json --engine-only

`--work` keeps the share and the loaded patients between runs (a later run
with the same `--work` reuses both), so a before / after comparison scans
the same bytes against the same index. `--fingerprint` writes every file's
engine result (status, code, protection, kinds, notes, counts and a digest
of its candidates) to compare two checkouts' findings.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))

SSN_PATTERN = "[0-9]{3}-[0-9]{2}-[0-9]{4}"
FORMATS = ("csv", "txt", "xlsx", "docx", "pdf")
# Share of the corpus's bytes per format (a file share of mostly text exports and office files).
MIX = {"csv": 0.35, "txt": 0.20, "xlsx": 0.20, "docx": 0.10, "pdf": 0.15}
PHI_SHARE = 0.03  # of the files

FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Eve",
    "Finn",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kemal",
    "Lena",
    "Maria",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomas",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Amir",
    "Beatriz",
    "Chen",
    "Dmitri",
    "Elif",
    "Farah",
    "Goran",
    "Hiro",
    "Ines",
    "Jonas",
    "Kaito",
]
LAST = [
    "Quist",
    "Roe",
    "Stone",
    "Tran",
    "Underwood",
    "Vale",
    "Wu",
    "Xu",
    "Young",
    "Zed",
    "Okafor",
    "Lopez",
    "Nguyen",
    "Schmidt",
    "Rossi",
    "Haddad",
    "Kowalski",
    "Silva",
    "Novak",
    "Tanaka",
    "Ivanova",
    "Jensen",
    "Murphy",
    "Patel",
    "Cohen",
    "Dubois",
    "Moreau",
    "Costa",
    "Fischer",
    "Berg",
]
DEPARTMENTS = [
    "Radiology",
    "Cardiology",
    "Pharmacy",
    "Laboratory",
    "Oncology",
    "Pediatrics",
    "Emergency",
    "Surgery",
    "Facilities",
    "Finance",
    "Nursing",
    "Admissions",
    "Sterile-Processing",
    "Dietary",
    "Biomedical-Engineering",
]
ITEMS = [
    "Nitrile gloves (box of 100)",
    "Sterile gauze 4x4",
    "IV start kit",
    "Syringe 10 mL Luer lock",
    "Saline flush 10 mL",
    "Blood collection tube EDTA",
    "Surgical mask type IIR",
    "Alcohol prep pad",
    "Adhesive bandage",
    "Suture 3-0 nylon",
    "Catheter 18G",
    "Exam table paper",
    "Sharps container 2 gal",
    "Thermometer probe cover",
    "Pulse oximeter sensor",
    "ECG electrode",
    "Hand sanitizer 500 mL",
    "Specimen bag",
    "Face shield",
    "Isolation gown",
]
VENDORS = [
    "Medline Industries",
    "Cardinal Health",
    "Owens & Minor",
    "McKesson",
    "Henry Schein",
    "Stryker",
    "Baxter",
    "BD Biosciences",
    "Siemens Healthineers",
    "GE HealthCare",
    "Fisher Scientific",
    "Sysco Food Services",
]
EQUIPMENT = [
    "Centrifuge",
    "Autoclave",
    "Blood gas analyzer",
    "Hematology analyzer",
    "Incubator",
    "Refrigerator",
    "Freezer -80C",
    "Biosafety cabinet",
    "Microscope",
    "Pipette set",
    "Infusion pump",
    "Defibrillator",
    "Ventilator",
]
POLICY_SENTENCES = (
    "All staff must complete the annual infection control training before the end of the fiscal year.",
    "Hand hygiene is performed before and after every patient contact and after removing gloves.",
    "Requests for leave are submitted to the department manager at least two weeks in advance.",
    "The emergency generator is tested monthly under load and the results are filed with Facilities.",
    "Visitors sign in at the front desk and wear a visitor badge at all times in clinical areas.",
    "Expired supplies are removed from stock and returned to Central Supply for disposal.",
    "Fire drills are held quarterly on every shift; the charge nurse records participation.",
    "Questions about this policy go to the Compliance Office, extension 4410, "
    "or compliance@hospital.example.",
    "Controlled substances are counted at every change of shift by two licensed staff members.",
    "Equipment with a failed safety check is tagged out of service and reported to Biomedical Engineering.",
    "The committee reviews this policy every two years, or sooner when regulations change.",
    "Temperature logs for medication refrigerators are reviewed daily by the pharmacy technician.",
)


def _date(rng: random.Random, start: int = 2019, end: int = 2026) -> str:
    return f"{rng.randint(start, end)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


# --- ordinary documents ---------------------------------------------------------------------------
def roster_rows(rng: random.Random, count: int) -> Iterator[list[str]]:
    yield ["employee_id", "name", "department", "title", "extension", "email", "hire_date"]
    for _ in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        yield [
            f"E{rng.randint(10000, 99999)}",
            f"{first} {last}",
            rng.choice(DEPARTMENTS),
            rng.choice(("RN", "LPN", "Technician", "Clerk", "Manager", "Physician", "Pharmacist")),
            f"x{rng.randint(1000, 9999)}",
            f"{first.lower()}.{last.lower()}@hospital.example",
            _date(rng, 1995, 2026),
        ]


def inventory_rows(rng: random.Random, count: int) -> Iterator[list[str]]:
    yield ["sku", "item", "lot", "qty", "unit_cost", "expiry", "supplier", "location"]
    for _ in range(count):
        yield [
            f"{rng.randint(100000, 999999)}",
            rng.choice(ITEMS),
            f"LOT{rng.randint(100000, 999999)}",
            str(rng.randint(0, 500)),
            f"{rng.uniform(0.05, 120):.2f}",
            _date(rng, 2025, 2029),
            rng.choice(VENDORS),
            f"{rng.choice(DEPARTMENTS)} room {rng.randint(100, 499)}",
        ]


def invoice_rows(rng: random.Random, count: int) -> Iterator[list[str]]:
    yield ["invoice", "date", "vendor", "description", "amount", "po_number", "cost_center"]
    for _ in range(count):
        yield [
            f"INV{rng.randint(1000000, 9999999)}",
            _date(rng, 2024, 2026),
            rng.choice(VENDORS),
            rng.choice(ITEMS),
            f"{rng.uniform(10, 25000):.2f}",
            f"PO{rng.randint(2024, 2026)}{rng.randint(10000, 99999)}",
            f"CC{rng.randint(100, 999)}",
        ]


def equipment_log_lines(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        yield (
            f"{_date(rng, 2025, 2026)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} "
            f"{rng.choice(EQUIPMENT)} S/N {rng.randint(100000, 999999)} "
            f"{rng.choice(('calibrated', 'checked', 'cleaned', 'serviced', 'temperature logged'))} by "
            f"{rng.choice(FIRST)[0]}. {rng.choice(LAST)}, reading {rng.uniform(-80, 3000):.1f}, "
            f"{rng.choice(('OK', 'OK', 'OK', 'out of range - retest', 'tagged out of service'))}"
        )


def policy_lines(rng: random.Random, count: int) -> Iterator[str]:
    for number in range(count):
        if number % 40 == 0:
            yield f"Section {number // 40 + 1}. {rng.choice(DEPARTMENTS)} procedures"
        yield " ".join(rng.choice(POLICY_SENTENCES) for _ in range(rng.randint(2, 5)))


# --- PHI ------------------------------------------------------------------------------------------
def phi_rows(rng: random.Random, count: int, ours: list[int]) -> Iterator[list[str]]:
    """Patient rows: one in five ours (MRN, national id and phone as the loader wrote them)."""
    yield ["mrn", "name", "dob", "ssn", "phone", "dx", "address"]
    for _ in range(count):
        if ours and rng.random() < 0.2:
            number = rng.choice(ours)
            mrn = f"BENCH-{number:07d}"
            national = f"900-{number // 10000 % 100:02d}-{number % 10000:04d}"
            phone = f"+1 555 {number // 10000:03d} {number % 10000:04d}"
        else:
            mrn = f"EXT-{rng.randint(0, 9_999_999):07d}"
            national = f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"
            phone = f"+1 617 {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
        yield [
            mrn,
            _name(rng),
            _date(rng, 1930, 2020),
            national,
            phone,
            rng.choice(("E11.9", "I10", "J45.909", "Z00.00", "N18.3")),
            f"{rng.randint(1, 999)} {rng.choice(('Main', 'Oak', 'Elm', 'Harbor'))} Street",
        ]


def phi_note_lines(rng: random.Random, count: int, ours: list[int]) -> Iterator[str]:
    rows = phi_rows(rng, count, ours)
    next(rows)
    for mrn, name, dob, ssn, phone, dx, address in rows:
        yield (
            f"Patient {name}, DOB {dob}, MRN {mrn}, SSN {ssn}. Seen for {dx}; lives at {address}; "
            f"call back at {phone}. Plan discussed with the family."
        )


# --- writers --------------------------------------------------------------------------------------
def write_csv(path: Path, rows: Iterator[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(
            ",".join(f'"{cell}"' if "," in cell else cell for cell in row) + "\n" for row in rows
        )


def write_lines(path: Path, lines: Iterator[str]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)


_XLSX_TEMPLATE: dict[str, bytes] = {}
_DOCX_TEMPLATE: dict[str, bytes] = {}


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _serial(iso: str) -> int:
    import datetime as dt

    return (dt.date.fromisoformat(iso) - dt.date(1899, 12, 30)).days


def write_xlsx(path: Path, rows: Iterator[list[str]], date_columns: tuple[int, ...] = ()) -> None:
    """As Excel writes a sheet: shared strings, numbers as numbers, dates as
    serials in a date-formatted style (openpyxl's workbook parts otherwise)."""
    if not _XLSX_TEMPLATE:
        from openpyxl import Workbook

        workbook = Workbook()
        workbook.active["A1"] = "text"
        workbook.active["A2"].number_format = "yyyy-mm-dd"
        import datetime as dt

        workbook.active["A2"] = dt.date(2020, 1, 1)
        buffer = io.BytesIO()
        workbook.save(buffer)
        with zipfile.ZipFile(buffer) as archive:
            _XLSX_TEMPLATE.update({name: archive.read(name) for name in archive.namelist()})
    strings: dict[str, int] = {}
    body = []
    width = 0
    count = 0
    for number, row in enumerate(rows, start=1):
        cells = []
        for index, value in enumerate(row):
            ref = f"{_column(index)}{number}"
            if number > 1 and index in date_columns:
                cells.append(f'<c r="{ref}" s="1"><v>{_serial(value)}</v></c>')
            elif number > 1 and value.replace(".", "", 1).isdigit() and not value.startswith("0"):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>')
        width = max(width, len(row))
        body.append(f'<row r="{number}">{"".join(cells)}</row>')
        count = number
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {ns}>'
        f'<dimension ref="A1:{_column(width - 1)}{count}"/><sheetData>{"".join(body)}</sheetData></worksheet>'
    )
    shared = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst {ns} uniqueCount="{len(strings)}">'
        + "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)
        + "</sst>"
    )
    parts = dict(_XLSX_TEMPLATE)
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    parts["xl/sharedStrings.xml"] = shared.encode()
    # openpyxl writes inline strings; Excel a shared strings part, declared here.
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSST" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    _write_zip(path, parts)


def write_docx(path: Path, paragraphs: list[str], table: list[list[str]] | None = None) -> None:
    """A Word document: paragraphs, then a table (python-docx's template parts)."""
    if not _DOCX_TEMPLATE:
        import docx

        buffer = io.BytesIO()
        docx.Document().save(buffer)
        with zipfile.ZipFile(buffer) as archive:
            _DOCX_TEMPLATE.update({name: archive.read(name) for name in archive.namelist()})
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = [f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>' for text in paragraphs]
    if table:
        body.append("<w:tbl>")
        for row in table:
            body.append(
                "<w:tr>"
                + "".join(f"<w:tc><w:p><w:r><w:t>{escape(cell)}</w:t></w:r></w:p></w:tc>" for cell in row)
                + "</w:tr>"
            )
        body.append("</w:tbl>")
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {ns}><w:body>'
        + "".join(body)
        + "<w:sectPr/></w:body></w:document>"
    )
    parts = dict(_DOCX_TEMPLATE)
    parts["word/document.xml"] = document.encode()
    _write_zip(path, parts)


def _write_zip(path: Path, parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def write_pdf(path: Path, lines: list[str]) -> None:
    from safeward.demo.share_files import write_pdf as demo_pdf

    demo_pdf(path, lines)


# --- the share ------------------------------------------------------------------------------------
def build_share(root: Path, megabytes: int, patients: int, seed: int) -> dict[str, tuple[int, int]]:
    """Files until each format reaches its share of `megabytes`; returns
    {format: (files, bytes)}. The same seed gives the same bytes (XLSX/DOCX
    zip timestamps aside, which no detector sees)."""
    rng = random.Random(seed)
    ours = rng.sample(range(patients), min(patients, 5000)) if patients else []
    sizes: dict[str, tuple[int, int]] = {}
    for kind in FORMATS:
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        target = int(megabytes * 1_000_000 * MIX[kind])
        files = written = 0
        while written < target:
            phi = rng.random() < PHI_SHARE
            path = _one_file(folder, kind, files, phi, rng, ours)
            written += path.stat().st_size
            files += 1
        sizes[kind] = (files, written)
    return sizes


def _one_file(folder: Path, kind: str, index: int, phi: bool, rng: random.Random, ours: list[int]) -> Path:
    tabular = (roster_rows, inventory_rows, invoice_rows)
    if kind == "csv":
        rows = rng.randint(20_000, 200_000)
        make = (lambda r, n: phi_rows(r, n, ours)) if phi else rng.choice(tabular)
        path = folder / f"{'patient-list' if phi else make.__name__.split('_')[0]}-{index:04d}.csv"
        write_csv(path, make(rng, rows))
    elif kind == "txt":
        lines = rng.randint(20_000, 100_000)
        if phi:
            path = folder / f"clinic-notes-{index:04d}.txt"
            write_lines(path, phi_note_lines(rng, lines // 10, ours))
        elif rng.random() < 0.5:
            path = folder / f"equipment-log-{index:04d}.txt"
            write_lines(path, equipment_log_lines(rng, lines))
        else:
            path = folder / f"policy-{index:04d}.txt"
            write_lines(path, policy_lines(rng, lines // 4))
    elif kind == "xlsx":
        rows = rng.randint(5_000, 40_000)
        if phi:
            path = folder / f"patient-list-{index:04d}.xlsx"
            write_xlsx(path, phi_rows(rng, rows, ours), date_columns=(2,))
        else:
            make, dates = rng.choice(((roster_rows, (6,)), (inventory_rows, (5,)), (invoice_rows, (1,))))
            path = folder / f"{make.__name__.split('_')[0]}-{index:04d}.xlsx"
            write_xlsx(path, make(rng, rows), date_columns=dates)
    elif kind == "docx":
        lines = rng.randint(200, 3_000)
        if phi:
            path = folder / f"patient-letters-{index:04d}.docx"
            write_docx(path, list(phi_note_lines(rng, lines // 5, ours)))
        else:
            path = folder / f"policy-{index:04d}.docx"
            table = list(inventory_rows(rng, rng.randint(0, 300))) if rng.random() < 0.3 else None
            write_docx(path, list(policy_lines(rng, lines)), table)
    else:
        lines = rng.randint(500, 4_000)
        if phi:
            path = folder / f"discharge-summaries-{index:04d}.pdf"
            write_pdf(path, list(phi_note_lines(rng, lines, ours)))
        else:
            path = folder / f"invoices-{index:04d}.pdf"
            write_pdf(path, [" ".join(row) for row in invoice_rows(rng, lines)])
    return path


# --- measuring ------------------------------------------------------------------------------------
def cpu() -> float:
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def measure(function: Callable[[], Any]) -> tuple[float, float, Any]:
    started_cpu, started = cpu(), time.perf_counter()
    result = function()
    return cpu() - started_cpu, time.perf_counter() - started, result


def grep(paths: list[str]) -> Callable[[], int]:
    def run() -> int:
        out = subprocess.run(
            ["grep", "-E", "-r", "-c", SSN_PATTERN, *paths], capture_output=True, check=False
        )
        return out.stdout.count(b"\n")

    return run


def fingerprint(result: Any) -> dict[str, Any]:
    candidates = {
        kind: hashlib.sha256("\n".join(sorted(values)).encode()).hexdigest()[:16] + f":{len(values)}"
        for kind, values in sorted(result.candidates.items())
    }
    return {
        "status": result.status,
        "code": result.code,
        "protection": result.protection,
        "kinds": list(result.kinds),
        "notes": list(result.notes),
        # Non-zero only, as a finding keeps them: a zero entry says which detector ran, not what it found.
        "counts": {category: count for category, count in sorted(result.counts.items()) if count},
        "candidates": candidates,
        "capped": result.candidates_capped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, type=Path, help="kept between runs: share and patients")
    parser.add_argument("--mb", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1642)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine-only", action="store_true", help="skip the full scan_run")
    parser.add_argument("--formats", default=",".join(FORMATS), help="formats to time the engine on")
    parser.add_argument("--fingerprint", type=Path, help="write every file's engine result here (JSON)")
    parser.add_argument("--profile", choices=FORMATS, help="pyinstrument the engine on one format, then stop")
    args = parser.parse_args()

    from _setup import configure, machine

    args.work.mkdir(parents=True, exist_ok=True)
    configure(args.work / "var")
    print(machine())
    print(f"code: {Path(__import__('safeward').__file__).parent}")
    marker = args.work / f"patients-{args.patients}"
    if not marker.exists():
        import discovery_throughput

        discovery_throughput.load_patients(args.patients)
        marker.touch()
    share = args.work / "share"
    built = args.work / f"share-{args.mb}-{args.seed}-{args.patients}.json"
    if not built.exists():
        started = time.perf_counter()
        sizes = build_share(share, args.mb, args.patients, args.seed)
        built.write_text(json.dumps(sizes))
        print(f"built the share in {time.perf_counter() - started:.0f} s")
    sizes = {kind: tuple(value) for kind, value in json.loads(built.read_text()).items()}
    total = sum(size for _, size in sizes.values())
    print(
        f"share: {total / 1e6:,.0f} MB, "
        + ", ".join(f"{kind} {files} files {size / 1e6:,.0f} MB" for kind, (files, size) in sizes.items())
    )
    # Read once, so grep and the engine both start from the page cache.
    files = [str(path) for path in share.rglob("*") if path.is_file()]
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=False)

    from safeward.assets.discovery.engine import Scanner, plan

    if args.profile:
        from pyinstrument import Profiler

        entries = list(plan([str(share / args.profile)]))
        profiler = Profiler(interval=0.002)
        with profiler:
            for entry in entries:
                Scanner().scan_entry(entry)
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return

    rows = []
    prints: dict[str, Any] = {}
    for kind in filter(None, args.formats.split(",")):
        folder = share / kind
        entries = list(plan([str(folder)]))
        g_cpu, g_wall, _ = measure(grep([str(folder)]))
        one = Scanner()

        def engine(entries: list[Any] = entries, one: Scanner = one) -> int:
            scanned = 0
            for result in one.scan_all(entries, {}):
                prints[os.path.relpath(result.path, share)] = fingerprint(result)
                scanned += 1
            return scanned

        e_cpu, e_wall, _ = measure(engine)
        rows.append((kind, sizes[kind][1], g_cpu, g_wall, e_cpu, e_wall, load()))
        print(
            f"{kind:5} {sizes[kind][1] / 1e6:7.0f} MB  grep cpu {g_cpu:6.2f} s wall {g_wall:6.2f} s  "
            f"engine cpu {e_cpu:7.2f} s wall {e_wall:7.2f} s  cpu ratio {e_cpu / max(g_cpu, 1e-3):6.1f}x  "
            f"wall ratio {e_wall / g_wall:6.1f}x  load {load()}",
            flush=True,
        )
    if args.fingerprint:
        args.fingerprint.write_text(json.dumps(prints, indent=1, sort_keys=True))
    if args.engine_only:
        return

    from safeward.assets.discovery_services import scan_run, scanner_from_settings

    g_cpu, g_wall, _ = measure(grep([str(share)]))
    print(f"whole share: grep cpu {g_cpu:.2f} s wall {g_wall:.2f} s  load {load()}", flush=True)
    for workers in sorted({1, args.workers}):
        scanner = scanner_from_settings(workers=workers)
        f_cpu, f_wall, scan = measure(
            lambda scanner=scanner: (
                scan_run(actor=None, roots=[str(share)], trigger="command", scanner=scanner).scan
            )
        )
        print(
            f"scan_run, {workers} process(es), {args.patients:,} patients: "
            f"cpu {f_cpu:.2f} s wall {f_wall:.2f} s "
            f"({total / 1e6 / f_wall:.1f} MB/s); wall / grep {f_wall / g_wall:.1f}x, cpu / grep "
            f"{f_cpu / max(g_cpu, 1e-3):.1f}x; files read {scan.files_read}, patients matched "
            f"{scan.patients_matched}  load {load()}",
            flush=True,
        )
        if workers != max(1, args.workers):
            from safeward.assets.models import ScannedFile

            # The next run must read every file again, not skip them as unchanged.
            ScannedFile.objects.all().delete()
    _, r_wall, scan = measure(
        lambda: (
            scan_run(actor=None, roots=[str(share)], trigger="command", scanner=scanner_from_settings()).scan
        )
    )
    print(f"rescan (nothing changed): wall {r_wall:.2f} s, files unchanged {scan.files_unchanged}")


if __name__ == "__main__":
    main()

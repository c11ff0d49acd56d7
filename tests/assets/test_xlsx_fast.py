"""The spreadsheet fast path (ADR 1642) gives openpyxl's lines exactly, and
declines (openpyxl then reads) whatever is not Excel's plain form."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from safeward.assets.discovery import xlsx_fast
from safeward.assets.discovery.engine import Scanner, plan
from safeward.assets.discovery.formats import Limits

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
LIMIT = 64 << 20
ROW1 = '<sheetData><row r="1">'


def _template() -> dict[str, bytes]:
    """openpyxl's parts for a one-sheet workbook whose style 1 is a date, plus a shared strings part."""
    workbook = Workbook()
    workbook.active["A1"] = "x"
    workbook.active["A2"] = dt.date(2020, 1, 1)
    workbook.active["A2"].number_format = "yyyy-mm-dd"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
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
    return parts


def workbook_bytes(sheet_data: str, strings: str, dimension: str | None = "A1:D6") -> bytes:
    parts = _template()
    head = f'<dimension ref="{dimension}"/>' if dimension else ""
    parts["xl/worksheets/sheet1.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet {NS}>{head}{sheet_data}</worksheet>'
    ).encode()
    parts["xl/sharedStrings.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sst {NS}>{strings}</sst>'.encode()
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def openpyxl_lines(data: bytes) -> list[list[str]]:
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    return [
        [
            "\t".join("" if cell is None else str(cell) for cell in row)
            for row in sheet.iter_rows(values_only=True)
        ]
        for sheet in workbook.worksheets
    ]


def fast_lines(data: bytes) -> list[list[str] | None]:
    workbook = xlsx_fast.load_workbook(io.BytesIO(data), LIMIT)
    return [xlsx_fast.sheet_lines(workbook, sheet, LIMIT) for sheet in workbook.worksheets]


STRINGS = (
    '<si><t>Jane Doe</t></si><si><t xml:space="preserve"> MRN &amp; DOB </t></si><si><t/></si>'
    "<si><t>a_x005F_b &lt;tag&gt; &quot;q&quot; &apos;</t></si>"
)
PLAIN = {
    "strings, numbers, dates, booleans, errors": (
        '<sheetData><row r="1" spans="1:4"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
        '<row r="2"><c r="A2"><v>12</v></c><c r="B2" t="n"><v>30.50</v></c><c r="C2" s="1"><v>29000</v></c>'
        '<c r="D2" s="1"><v>29000.75</v></c></row>'
        '<row r="3"><c r="A3" t="b"><v>1</v></c><c r="B3" t="e"><v>#N/A</v></c>'
        '<c r="C3" t="str"><f>A1&amp;B1</f><v>x &amp; y</v></c><c r="D3"><v>1E-3</v></c></row></sheetData>'
    ),
    "missing rows and cells, past the dimension": (
        '<sheetData><row r="2"><c r="C2" t="s"><v>0</v></c></row><row r="4"/>'
        '<row r="5"><c r="A5"/><c r="B5"><v/></c><c r="F5"><v>7</v></c></row>'
        '<row r="9"><c r="A9"><v>9</v></c></row></sheetData>'
    ),
    "an empty sheet": "<sheetData/>",
    "a date out of range": ROW1 + '<c r="A1" s="1"><v>99999999</v></c></row></sheetData>',
}


@pytest.mark.filterwarnings("ignore:Cell A1 is marked as a date")  # openpyxl's, on the out-of-range date
@pytest.mark.parametrize("sheet_data", PLAIN.values(), ids=PLAIN.keys())
@pytest.mark.parametrize("dimension", ["A1:D6", "A1:B3", None])
def test_plain_sheets_read_fast_give_openpyxls_lines(sheet_data, dimension):
    data = workbook_bytes(sheet_data, STRINGS, dimension)
    fast = fast_lines(data)
    assert fast[0] is not None  # the fast path was taken
    assert fast == openpyxl_lines(data)


NOT_PLAIN = {
    "inline string": ROW1 + '<c r="A1" t="inlineStr"><is><t>Jane</t></is></c></row></sheetData>',
    "cell without coordinate": ROW1 + '<c t="s"><v>0</v></c></row></sheetData>',
    "row without number": '<sheetData><row><c r="A1" t="s"><v>0</v></c></row></sheetData>',
    "numeric character reference": ROW1 + '<c r="A1" t="str"><v>a&#10;b</v></c></row></sheetData>',
    "unknown element": ROW1 + '<c r="A1"><v>1</v><extLst/></c></row></sheetData>',
    "attributes in another order": ROW1 + '<c r="A1" t="s" s="1"><v>0</v></c></row></sheetData>',
    "text between rows": ROW1 + '<c r="A1"><v>1</v></c></row>stray</sheetData>',
    "row in another namespace": '<sheetData><row r="1" xmlns="urn:x"><c r="A1"/></row></sheetData>',
    "row outside the sheet data": '<sheetData/><extLst><row r="1"><c r="A1"><v>1</v></c></row></extLst>',
    "ISO date cell": ROW1 + '<c r="A1" t="d"><v>2020-01-02</v></c></row></sheetData>',
}


@pytest.mark.parametrize("sheet_data", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_anything_else_is_left_to_openpyxl(sheet_data, tmp_path):
    data = workbook_bytes(sheet_data, STRINGS)
    assert fast_lines(data) == [None]
    # ...and the scan reads it through openpyxl, with the same text as before.
    (tmp_path / "a.xlsx").write_bytes(data)
    result = Scanner().scan_entry(next(plan([str(tmp_path / "a.xlsx")])))
    assert result.status == "scanned", result.reason


def test_an_unusual_string_table_is_read_by_openpyxl():
    rich = (
        '<si><r><t>Jane</t></r><r><t xml:space="preserve"> Doe</t></r></si>'
        '<si><t>x</t><phoneticPr fontId="1"/></si>'
    )
    sheet = ROW1 + '<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row></sheetData>'
    data = workbook_bytes(sheet, rich)
    lines = openpyxl_lines(data)
    assert lines[0][0] == "Jane Doe\tx\t\t"
    assert fast_lines(data) == lines


def test_another_encoding_or_a_doctype_is_not_plain():
    with pytest.raises(xlsx_fast._NotPlain):
        xlsx_fast._text(b'<?xml version="1.0" encoding="UTF-16"?><a/>')
    with pytest.raises(xlsx_fast._NotPlain):
        xlsx_fast._text(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')
    with pytest.raises(xlsx_fast._NotPlain):
        xlsx_fast._text(b"<a>\xff\xfe</a>")  # not UTF-8


def test_a_bad_string_index_is_corrupt_as_before(tmp_path):
    data = workbook_bytes(ROW1 + '<c r="A1" t="s"><v>99</v></c></row></sheetData>', STRINGS)
    (tmp_path / "a.xlsx").write_bytes(data)
    result = Scanner().scan_entry(next(plan([str(tmp_path / "a.xlsx")])))
    assert result.code == "corrupt"


@pytest.mark.parametrize(
    "sheet_data",
    [
        '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>',  # truncated
        '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData><pageMargins>',  # broken after
    ],
    ids=["truncated", "broken after the data"],
)
def test_malformed_sheet_xml_is_corrupt_as_with_openpyxl(sheet_data, tmp_path):
    data = workbook_bytes(ROW1 + '<c r="A1" t="s"><v>0</v></c>', STRINGS)
    (tmp_path / "a.xlsx").write_bytes(data)
    result = Scanner().scan_entry(next(plan([str(tmp_path / "a.xlsx")])))
    assert result.code == "corrupt"


def test_a_sheet_expanding_past_the_member_limit_is_refused_unread(tmp_path):
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(1, 3000))
    data = workbook_bytes(f"<sheetData>{rows}</sheetData>", STRINGS, None)
    workbook = xlsx_fast.load_workbook(io.BytesIO(data), LIMIT)
    assert xlsx_fast.sheet_lines(workbook, workbook.worksheets[0], 1000) is None
    # The scan's guard refuses a sheet whose declared size is past the member limit (ZIP bomb).
    (tmp_path / "a.xlsx").write_bytes(data)
    small = Scanner(limits=Limits(max_expanded_bytes=20_000))
    assert small.scan_entry(next(plan([str(tmp_path / "a.xlsx")]))).code == "bomb"


def test_findings_match_openpyxl_on_patient_rows(tmp_path):
    """The scanner's counts and candidates on a plain sheet of patient rows are what openpyxl's text gives."""
    from safeward.assets.discovery.detectors import TextTally

    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="s"><v>0</v></c><c r="B{n}" s="1"><v>{20000 + n}</v></c>'
        f'<c r="C{n}" t="str"><v>123-45-{6000 + n}</v></c><c r="D{n}" t="str"><v>DEMO-{n:05d}</v></c></row>'
        for n in range(1, 200)
    )
    data = workbook_bytes(f"<sheetData>{rows}</sheetData>", STRINGS, "A1:D199")
    path = tmp_path / "p.xlsx"
    path.write_bytes(data)
    result = Scanner().scan_entry(next(plan([str(path)])))
    expected = TextTally()
    expected.feed("\n".join(openpyxl_lines(data)[0]) + "\n")
    assert result.counts == expected.counts
    assert result.counts["ssn"] == 199
    assert result.candidates == expected.candidates


def test_bench_share_workbooks(tmp_path: Path):
    """Workbooks as bench/discovery_share.py writes them (Excel's form) take the fast path."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import random

    import discovery_share  # type: ignore[import-not-found]  # bench/ is a folder of scripts

    path = tmp_path / "r.xlsx"
    discovery_share.write_xlsx(path, discovery_share.inventory_rows(random.Random(1), 300), date_columns=(5,))
    data = path.read_bytes()
    fast = fast_lines(data)
    assert fast[0] is not None
    assert fast == openpyxl_lines(data)

"""Spreadsheet text without openpyxl's per-cell objects (ADR 1642).

openpyxl's read-only reader builds an element, a dict and a tuple slot for
every cell; on an ordinary inventory or roster that is ~90 % of the scan's
time (bench/discovery_share.py --profile xlsx). Excel and most writers
store a sheet in one plain form: `<row r="N">` elements holding `<c r="A1"
s="3" t="s"><v>12</v></c>` cells, strings in a shared table of `<si><t>`
items. This module reads exactly that form with regular expressions and
gives **the same lines** as `iter_rows(values_only=True)`: openpyxl's own
number casting, date conversion (the workbook's date styles and epoch, as
openpyxl computed them), shared strings, row padding to the sheet's
dimension and the empty rows it yields for missing ones.

Anything else (inline or rich strings, formulas' cached strings holding
entities, namespace prefixes, cells without coordinates, another
encoding, a DOCTYPE) is not guessed at: `sheet_lines` returns None and the
caller uses openpyxl for that sheet; an unusual shared strings table is
read by openpyxl's own reader. Every byte of a sheet's data and of the
string table must be accounted for by the expected elements, or the fast
path declines. tests/assets/test_xlsx_fast.py compares both readers.
"""

from __future__ import annotations

import functools
import io
import operator
import re
from typing import IO, Any
from xml.etree import ElementTree

from openpyxl.reader.excel import ExcelReader
from openpyxl.reader.strings import read_string_table
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet._reader import _cast_number
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

# openpyxl finds its elements in this namespace only (strict OOXML's sheets read as empty).
_MAIN_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHEET_DATA_TAG = f"{{{SHEET_MAIN_NS}}}sheetData"
ROW_TAG = f"{{{SHEET_MAIN_NS}}}row"


class _NotPlain(Exception):
    """The part is not in the plain form this module reads."""


_XML_DECL = re.compile(r"<\?xml[^>]*\?>\s*")
_ENCODING = re.compile(r'encoding="([^"]+)"')
_SST = re.compile(r"<sst(?: [a-zA-Z:]+=\"[^\"<>]*\")*>(.*)</sst>\s*\Z", re.S)
_SI = re.compile(r'\s*<si><t(?: xml:space="preserve")?>([^<]*)</t></si>|\s*<si><t/></si>')
# Group 1 is the whole row or cell: `_back_to_back` checks that they account for every byte.
_ROW = re.compile(r'(\s*<row r="(\d+)"(?: (?!xmlns)[a-zA-Z:]+="[^"<>]*")*(?:/>|>(.*?)</row>))', re.S)
_CELL = re.compile(
    r'(\s*<c r="([A-Z]{1,3})\d+"(?: s="(\d+)")?(?: t="(s|n|b|str|e)")?'
    r'(?:/>|>\s*(?:<f(?: [a-zA-Z]+="[^"<>]*")*(?:/>|>[^<]*</f>)\s*)?(?:<v>([^<]*)</v>|<v/>)?\s*</c>))'
)
# The five predefined entities: any other reference (numeric, or declared in a DTD) is not plain.
_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_OTHER_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|apos);)")


def _text(raw: bytes) -> str:
    """A part's XML as text, when it is UTF-8 with no DOCTYPE (entities could be declared there)."""
    head = raw[:200].decode("ascii", "replace")
    declared = _ENCODING.search(head.split("?>", 1)[0]) if head.startswith("<?xml") else None
    if declared and declared.group(1).lower() not in ("utf-8", "utf8"):
        raise _NotPlain
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _NotPlain from None
    if "<!" in text or "\r" in text:  # DOCTYPE, CDATA, comments; XML's newline normalisation
        raise _NotPlain
    declaration = _XML_DECL.match(text)
    return text[declaration.end() :] if declaration else text


def _unescape(value: str) -> str:
    if "&" not in value:
        return value
    if _OTHER_AMP.search(value):
        raise _NotPlain
    return _ENTITY.sub(lambda match: _ENTITIES[match[1]], value)


def _read_part(archive: Any, name: str, limit: int) -> bytes:
    """A part's bytes, refusing more than `limit` expanded (declared sizes can lie)."""
    with archive.open(name) as part:
        data: bytes = part.read(limit + 1)
    if len(data) > limit:
        raise ValueError("part expands past the member limit")
    return data


def shared_strings(raw: bytes) -> list[str]:
    """The shared string table as openpyxl's `read_string_table` reads it."""
    try:
        text = _text(raw)
        table = _SST.match(text)
        if table is None or _MAIN_NS not in text[: table.start(1)]:
            raise _NotPlain
        body = table.group(1)
        strings = []
        covered = 0
        for item in _SI.finditer(body):
            covered += len(item[0])
            strings.append(_unescape(item[1] or "").replace("x005F_", ""))
        if covered != len(body.rstrip()):
            raise _NotPlain
        return strings
    except _NotPlain:
        return list(read_string_table(io.BytesIO(raw)))


class _Reader(ExcelReader):  # type: ignore[misc]
    """openpyxl's workbook reader with the shared strings read by `shared_strings`."""

    member_limit = 64 << 20

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is None:
            return
        try:
            raw = _read_part(self.archive, part.PartName[1:], self.member_limit)
        except ValueError:  # larger than a member may be: openpyxl streams it, as before
            super().read_strings()
            return
        self.shared_strings = shared_strings(raw)


def load_workbook(stream: IO[bytes], member_limit: int) -> Any:
    """openpyxl's `load_workbook(read_only=True, data_only=True)`, shared strings read fast."""
    reader = _Reader(stream, read_only=True, data_only=True)
    reader.member_limit = member_limit
    reader.read()
    return reader.wb


@functools.lru_cache(maxsize=1 << 12)
def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def sheet_lines(workbook: Any, sheet: Any, member_limit: int) -> list[str] | None:
    """The sheet's rows as tab-joined lines, or None when it is not in the plain form."""
    try:
        text = _text(_read_part(workbook._archive, sheet._worksheet_path, member_limit))
        return _lines(text, workbook, sheet)
    except (_NotPlain, IndexError, ValueError, OverflowError):
        # IndexError / ValueError: a bad string index or number; openpyxl decides what that is.
        return None


def _lines(text: str, workbook: Any, sheet: Any) -> list[str]:
    start, end, body = _sheet_data(text)
    _check_outside(text[:start] + "<sheetData/>" + text[end:])
    strings = sheet._shared_strings
    date_formats = workbook._date_formats
    timedelta_formats = workbook._timedelta_formats
    epoch = workbook.epoch

    def value(style: str, kind: str, raw: str) -> Any:
        # openpyxl's WorkSheetParser.parse_cell with data_only, for the plain cell types
        # (an absent attribute or value is "": no type is a number).
        if not raw:
            return None
        raw = _unescape(raw)
        if not kind or kind == "n":
            number = _cast_number(raw)
            style_id = int(style) if style else 0
            if style_id in date_formats:
                try:
                    return from_excel(number, epoch, timedelta=style_id in timedelta_formats)
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return number
        if kind == "s":
            return strings[int(raw)]
        if kind == "b":
            return bool(int(raw))
        return raw  # str, e

    # ReadOnlyWorksheet._cells_by_row(1, 1, max_column, max_row, values_only=True)
    max_col = sheet.max_column
    max_row = sheet.max_row
    empty = "\t".join([""] * max_col) if max_col is not None else ""
    lines: list[str] = []
    counter = 1
    index = 1
    for _, number, inner in _back_to_back(_ROW, body):
        index = int(number)
        cells = [
            (_column(letters), value(style, kind, raw))
            for _, letters, style, kind, raw in _back_to_back(_CELL, inner)
        ]
        if max_row is not None and index > max_row:
            break
        while counter < index:
            counter += 1
            lines.append(empty)
        if counter <= index:
            lines.append(_row_line(cells, max_col))
            counter += 1
    if max_row is not None and max_row < index:
        lines.extend([empty] * max(0, max_row + 1 - counter))
    return lines


def _sheet_data(text: str) -> tuple[int, int, str]:
    """Where the one `<sheetData>` element is, and its content: what the
    search `<sheetData>(.*?)</sheetData>|<sheetData/>` finds, by `str.find`
    (the lazy `.*?` tried the closing tag at each of the sheet's bytes)."""
    if text.count("<sheetData") != 1:
        raise _NotPlain
    start = text.find("<sheetData")
    if text.startswith("<sheetData/>", start):
        return start, start + len("<sheetData/>"), ""
    if not text.startswith("<sheetData>", start):
        raise _NotPlain
    close = text.find("</sheetData>", start)
    if close < 0:
        raise _NotPlain
    return start, close + len("</sheetData>"), text[start + len("<sheetData>") : close]


def _check_outside(skeleton: str) -> None:
    """The sheet without its data must be well-formed XML (openpyxl would fail on
    it otherwise), with the data in openpyxl's namespace and no rows elsewhere
    (openpyxl reads a row wherever it is)."""
    try:
        root = ElementTree.fromstring(skeleton)  # noqa: S314 - no DOCTYPE (see _text): no entities to expand
    except ElementTree.ParseError:
        raise _NotPlain from None
    if root.find(SHEET_DATA_TAG) is None or next(root.iter(ROW_TAG), None) is not None:
        raise _NotPlain


_WHOLE = operator.itemgetter(0)


def _back_to_back(pattern: re.Pattern[str], text: str) -> list[tuple[str, ...]]:
    """Every row (or cell) of `text`, when they follow each other from its start
    to its end: `findall` skips what does not match, so the matches' lengths
    (group 1) add up to the text's exactly when nothing was skipped (a match
    ends in ">", never in the trailing space). Found in one C call instead of
    a `match` per row and per cell."""
    found: list[tuple[str, ...]] = pattern.findall(text)
    if sum(map(len, map(_WHOLE, found))) != len(text.rstrip()):
        raise _NotPlain
    return found


def _row_line(cells: list[tuple[int, Any]], max_col: int | None) -> str:
    # ReadOnlyWorksheet._get_row with values_only, joined as the scanner joins cells.
    if not cells and not max_col:
        return ""
    width = max_col or cells[-1][0]
    row = [""] * width
    for column, cell in cells:
        if 1 <= column <= width:
            row[column - 1] = "" if cell is None else str(cell)
    return "\t".join(row)

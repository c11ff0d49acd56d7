"""A Word document's text without python-docx's per-element XPath (ADR 1643).

python-docx opens the package, checks its content types and parses every
part with its own lxml parser (no entities resolved); that part is kept
as it is, so a document python-docx refuses is still refused the same way.
What cost ~80 % of a document's scan (bench/discovery_share.py --profile
docx) is what comes after: `Paragraph.text` and `_Cell.text` compile and
run an XPath query per paragraph and per run. `document_lines` walks the
same parsed tree's children directly and gives **the same lines** as

    [p.text for p in document.paragraphs]
    + ["\\t".join(cell.text for cell in row.cells) for table in document.tables for row in table.rows]

following python-docx's definitions: a paragraph's text is its direct
`w:r` and `w:hyperlink` children's (a hyperlink's its direct runs'); a
run's text is its `w:t` text, `w:tab`/`w:ptab` as a tab, `w:cr` and a text
wrapping `w:br` as a line break, a page or column break as nothing,
`w:noBreakHyphen` as "-". A table with merged cells (`w:gridSpan`,
`w:vMerge`), whose cells python-docx repeats or borrows from the row above,
and a break of a type it does not know, are left to python-docx itself.
tests/assets/test_docx_fast.py compares both on generated and edge-case
documents.
"""

from __future__ import annotations

from typing import Any

from docx.table import Table

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
P, R, HYPERLINK, TBL, TR, TC = (f"{_W}{name}" for name in ("p", "r", "hyperlink", "tbl", "tr", "tc"))
T, TAB, PTAB, CR, BR, NO_BREAK_HYPHEN = (
    f"{_W}{name}" for name in ("t", "tab", "ptab", "cr", "br", "noBreakHyphen")
)
BR_TYPE = f"{_W}type"
# What a run's child element stands for in its text (`w:t` and `w:br` apart).
_RUN_CHARACTERS = {TAB: "\t", PTAB: "\t", CR: "\n", NO_BREAK_HYPHEN: "-"}
_BREAKS = {None: "\n", "textWrapping": "\n", "page": "", "column": ""}
_MERGES = (f"{_W}gridSpan", f"{_W}vMerge")


class _Unusual(Exception):
    """Something python-docx interprets in a way this module does not reproduce."""


def _run_text(run: Any) -> str:
    parts = []
    for child in run:
        tag = child.tag
        if tag == T:
            parts.append(child.text or "")
        elif tag == BR:
            kind = child.get(BR_TYPE)
            if kind not in _BREAKS:
                raise _Unusual
            parts.append(_BREAKS[kind])
        else:
            character = _RUN_CHARACTERS.get(tag)
            if character is not None:
                parts.append(character)
    return "".join(parts)


def _paragraph_text(paragraph: Any) -> str:
    parts = []
    for child in paragraph:
        tag = child.tag
        if tag == R:
            parts.append(_run_text(child))
        elif tag == HYPERLINK:
            parts.extend(_run_text(run) for run in child if run.tag == R)
    return "".join(parts)


def _table_lines(table: Any, document: Any) -> list[str]:
    if any(True for _ in table.iter(*_MERGES)):
        # python-docx repeats a spanned cell and takes a continued one from the row above.
        return ["\t".join(cell.text for cell in row.cells) for row in Table(table, document).rows]
    return [
        "\t".join("\n".join(_paragraph_text(p) for p in cell if p.tag == P) for cell in row if cell.tag == TC)
        for row in table
        if row.tag == TR
    ]


def _python_docx_lines(document: Any) -> list[str]:
    lines = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return lines


def document_lines(document: Any) -> list[str]:
    """The body's paragraphs, then each of its tables' rows as tab-joined cells."""
    body = document.element.body
    try:
        lines = [_paragraph_text(child) for child in body if child.tag == P]
        for child in body:
            if child.tag == TBL:
                lines.extend(_table_lines(child, document))
    except _Unusual:
        return _python_docx_lines(document)
    return lines

"""The Word fast path (ADR 1643) gives python-docx's paragraph and table text
exactly, on generated documents and on the elements python-docx treats
specially, and leaves merged tables and unknown breaks to python-docx."""

from __future__ import annotations

import io
import random
import zipfile

import docx
import pytest
from docx.oxml.text.paragraph import CT_P

from safeward.assets.discovery import docx_fast
from safeward.assets.discovery.detectors import TextTally
from safeward.assets.discovery.formats import Budget, Limits, read_into

NS = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)


def _template() -> dict[str, bytes]:
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


TEMPLATE = _template()


def docx_bytes(body: str) -> bytes:
    parts = dict(TEMPLATE)
    parts["word/document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {NS}><w:body>{body}'
        "<w:sectPr/></w:body></w:document>"
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def python_docx_lines(data: bytes) -> list[str]:
    """What the scanner read before ADR 1643, written out with python-docx's API."""
    document = docx.Document(io.BytesIO(data))
    lines = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return lines


def fast_lines(data: bytes) -> list[str]:
    return docx_fast.document_lines(docx.Document(io.BytesIO(data)))


def p(*runs: str) -> str:
    return "<w:p>" + "".join(runs) + "</w:p>"


def r(inner: str) -> str:
    return f"<w:r>{inner}</w:r>"


def t(text: str, preserve: bool = False) -> str:
    space = ' xml:space="preserve"' if preserve else ""
    return f"<w:t{space}>{text}</w:t>"


EDGE_CASES = {
    "plain": p(r(t("Jane Doe, DOB 1960-01-02"))),
    "several runs and formatting": p(
        "<w:pPr><w:jc w:val='center'/></w:pPr>",
        r("<w:rPr><w:b/></w:rPr>" + t("MRN ")),
        r(t("EXT-0012345", preserve=True)),
    ),
    "tab, ptab, cr, no-break hyphen": p(
        r(
            t("a")
            + "<w:tab/>"
            + t("b")
            + "<w:ptab w:relativeTo='margin' w:alignment='left' w:leader='none'/>"
        ),
        r("<w:cr/>" + t("555") + "<w:noBreakHyphen/>" + t("0100")),
    ),
    "breaks of every known type": p(
        r(t("one") + "<w:br/>" + t("two") + "<w:br w:type='textWrapping'/>" + t("three")),
        r("<w:br w:type='page'/>" + t("four") + "<w:br w:type='column'/>" + t("five")),
    ),
    "whitespace-only text": p(r(t(" ", preserve=True)), r(t("x")), r(t("   "))),
    "empty text and paragraph": p(r("<w:t/>")) + "<w:p/>",
    "entities": p(r(t("Doe &amp; Roe &lt;1960-01-02&gt; &#x41;"))),
    "hyperlink": p(
        r(t("see ")),
        "<w:hyperlink r:id='rId99'>" + r(t("Jane Doe")) + "<w:proofErr w:type='spellStart'/></w:hyperlink>",
    ),
    "runs python-docx skips": p(
        "<w:ins w:id='1' w:author='a'>" + r(t("inserted")) + "</w:ins>",
        "<w:smartTag w:uri='u' w:element='e'>" + r(t("tagged")) + "</w:smartTag>",
        "<w:fldSimple w:instr='DATE'>" + r(t("2020-01-01")) + "</w:fldSimple>",
        r("<w:delText>deleted</w:delText>" + t("kept")),
        "<w:bookmarkStart w:id='0' w:name='b'/>",
        r(t("after")),
    ),
    "comment and processing instruction": p("<!-- note -->", "<?pi x?>", r(t("x"))),
    "content control in the body": "<w:sdt><w:sdtContent>" + p(r(t("hidden"))) + "</w:sdtContent></w:sdt>",
    "table": (
        "<w:tbl><w:tblPr/><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>"
        "<w:tr><w:tc><w:tcPr><w:tcW w:w='10'/></w:tcPr>"
        + p(r(t("a")))
        + p(r(t("b")))
        + "</w:tc><w:tc>"
        + p(r(t("c")))
        + "</w:tc></w:tr><w:tr><w:trPr/><w:tc>"
        + p()
        + "</w:tc></w:tr></w:tbl>"
    ),
    "nested table": (
        "<w:tbl><w:tr><w:tc>"
        + p(r(t("outer")))
        + "<w:tbl><w:tr><w:tc>"
        + p(r(t("inner")))
        + "</w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>"
    ),
    "merged cells": (
        "<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/><w:gridCol/></w:tblGrid>"
        "<w:tr><w:tc><w:tcPr><w:gridSpan w:val='2'/></w:tcPr>"
        + p(r(t("wide")))
        + "</w:tc><w:tc><w:tcPr><w:vMerge w:val='restart'/></w:tcPr>"
        + p(r(t("tall")))
        + "</w:tc></w:tr><w:tr><w:tc>"
        + p(r(t("x")))
        + "</w:tc><w:tc>"
        + p(r(t("y")))
        + "</w:tc><w:tc><w:tcPr><w:vMerge/></w:tcPr>"
        + p()
        + "</w:tc></w:tr></w:tbl>"
    ),
    "paragraphs before and after tables": (
        p(r(t("first")))
        + "<w:tbl><w:tr><w:tc>"
        + p(r(t("cell")))
        + "</w:tc></w:tr></w:tbl>"
        + p(r(t("last")))
    ),
}


@pytest.mark.parametrize("body", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_give_python_docx_text(body):
    data = docx_bytes(body)
    assert fast_lines(data) == python_docx_lines(data)


def test_unknown_break_type_is_left_to_python_docx(monkeypatch):
    data = docx_bytes(p(r(t("a") + "<w:br w:type='sideways'/>" + t("b"))))
    fallbacks = []
    python_docx = docx_fast._python_docx_lines
    monkeypatch.setattr(docx_fast, "_python_docx_lines", lambda d: fallbacks.append(1) or python_docx(d))
    assert fast_lines(data) == python_docx_lines(data)
    assert fallbacks == [1]


def test_generated_documents_give_python_docx_text():
    rng = random.Random(1643)
    words = ["Jane", "Doe", "MRN", "EXT-0012345", "1960-01-02", "555-0100", "&amp;", "x", ""]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(0, 6)))

    for _ in range(20):
        body = []
        for _ in range(rng.randint(1, 30)):
            runs = [
                r(t(text(), preserve=rng.random() < 0.5) + rng.choice(["", "<w:tab/>", "<w:br/>"]))
                for _ in range(rng.randint(0, 4))
            ]
            body.append(p(*runs))
            if rng.random() < 0.2:
                rows = "".join(
                    "<w:tr>" + "".join(f"<w:tc>{p(r(t(text())))}</w:tc>" for _ in range(3)) + "</w:tr>"
                    for _ in range(rng.randint(1, 4))
                )
                body.append(f"<w:tbl>{rows}</w:tbl>")
        data = docx_bytes("".join(body))
        assert fast_lines(data) == python_docx_lines(data)


def test_plain_documents_are_read_without_python_docx_text(monkeypatch):
    """The scan of an ordinary document no longer goes through `Paragraph.text`
    (its per-paragraph XPath was ~80 % of a document's scan), yet finds the same."""
    data = docx_bytes(
        p(r(t("Jane Doe, DOB 1960-01-02, MRN EXT-0012345")))
        + "<w:tbl><w:tr><w:tc>"
        + p(r(t("SSN 123-45-6789")))
        + "</w:tc></w:tr></w:tbl>"
    )

    def refuse(self):
        raise AssertionError("python-docx text read")

    monkeypatch.setattr(CT_P, "text", property(refuse))
    tally = TextTally()
    read_into(io.BytesIO(data), "a.docx", tally, Budget(Limits()))
    assert tally.candidates["mrn"] == {"EXT-0012345"}
    assert tally.candidates["national_id"] == {"123-45-6789"}
    assert tally.counts["dob_with_name"] == 1

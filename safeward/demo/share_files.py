"""Writers of the documents the demo file share holds (and the scanner's
tests and benchmark use): plain CSV, XLSX, DOCX and text PDF, and their
protected forms (AES-encrypted ZIP, password PDF, encrypted Office).

Each writes real files with the well-kept library for its format, so the
scanner reads what a hospital's share would hold."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def write_docx(path: Path, paragraphs: Iterable[str]) -> Path:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, lines: Sequence[str], *, password: str | None = None, per_page: int = 50) -> Path:
    """A text PDF (Helvetica, `per_page` lines a page); with `password`, AES-256 encrypted."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for start in range(0, max(len(lines), 1), per_page):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        body = ["BT /F1 10 Tf 14 TL 40 760 Td"]
        body += [f"({_pdf_escape(line)}) Tj T*" for line in lines[start : start + per_page]]
        body.append("ET")
        content = DecodedStreamObject()
        content.set_data("\n".join(body).encode("latin-1", "replace"))
        page[NameObject("/Contents")] = writer._add_object(content)
    if password is not None:
        writer.encrypt(password, algorithm="AES-256")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def write_encrypted_zip(path: Path, members: dict[str, bytes], *, password: str) -> Path:
    """A ZIP whose every member is AES-256 encrypted (WinZip AE-2, as 7-Zip writes it)."""
    import pyzipper

    with pyzipper.AESZipFile(
        path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password.encode("utf-8"))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_encrypted_office(path: Path, plain_docx: Path, *, password: str) -> Path:
    """`plain_docx` encrypted with a password (ECMA-376 agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with plain_docx.open("rb") as source:
        office = OOXMLFile(source)
        buffer = io.BytesIO()
        office.encrypt(password, buffer)
    path.write_bytes(buffer.getvalue())
    return path

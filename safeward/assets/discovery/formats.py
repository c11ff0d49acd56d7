"""Reading one file's text, or telling that it is protected.

`read_into(stream, name, tally, budget)` sniffs the first bytes, decides
whether the content is encrypted (ZIP with encrypted members, PDF with a
user password, encrypted Office, OpenPGP, age, SafeWard/Tink streams) and
otherwise feeds its text to the tally: CSV/TSV/JSON/TXT as text streamed in
blocks, XLSX through openpyxl (read-only), DOCX through python-docx, PDF
text through poppler's pdftotext when installed, else pypdf, ZIP archives
member by member (nested up to a depth).

Hostile input ends in `Unread(reason, code)`, never in an unhandled
exception: archives are checked for bombs (member count, declared
compression ratio, declared and actually expanded size, nesting depth)
before anything inside is parsed, and expansion is counted as it happens
because declared sizes can lie. Reasons name the problem, never content.
"""

from __future__ import annotations

import codecs
import io
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from charset_normalizer import from_bytes

from safeward.assets.discovery.detectors import TextTally

PLAINTEXT = ""


class Protection:
    """How a file's content is protected (``PLAINTEXT`` when it is not)."""

    ZIP = "encrypted_zip"
    PDF = "encrypted_pdf"
    OFFICE = "encrypted_office"
    OPENPGP = "openpgp"
    AGE = "age"
    SAFEWARD = "safeward_stream"
    TINK = "tink"

    LABELS = {
        ZIP: "Encrypted ZIP archive",
        PDF: "PDF with a user password",
        OFFICE: "Encrypted Office document",
        OPENPGP: "OpenPGP message",
        AGE: "age-encrypted file",
        SAFEWARD: "SafeWard encrypted stream (Tink streaming AEAD)",
        TINK: "Tink streaming ciphertext",
    }


class Unread(Exception):
    """A file, or part of it, that was not read, with the reason recorded."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 1 << 30  # larger files are recorded, not read
    max_member_bytes: int = 64 << 20  # one archive member, expanded
    max_expanded_bytes: int = 256 << 20  # all members of one file's archives, expanded
    max_ratio: int = 100  # declared compression ratio of a member
    max_members: int = 10_000
    max_depth: int = 3  # archives inside archives
    max_pdf_pages: int = 2_000
    # pdftotext (ADR 1644): wall and CPU seconds, address space of the child.
    pdftotext_seconds: int = 300
    pdftotext_memory_bytes: int = 2 << 30
    block_bytes: int = 1 << 20


@dataclass
class Budget:
    """What one top-level file may still expand to, across nested archives."""

    limits: Limits
    expanded: int = 0
    kinds: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def spend(self, count: int) -> None:
        self.expanded += count
        if self.expanded > self.limits.max_expanded_bytes:
            raise Unread(
                f"Archive expands past {self.limits.max_expanded_bytes:,} bytes: treated as a ZIP bomb.",
                "bomb",
            )


# --- sniffing -------------------------------------------------------------------------------------
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_HEADS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_TEXT_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _openpgp_binary(head: bytes) -> bool:
    """An OpenPGP message starts with a public-key or symmetric-key encrypted
    session key packet (tags 1 and 3), in the old or the new packet format,
    followed by a version byte that those packets allow."""
    if len(head) < 4:
        return False
    first = head[0]
    old = {0x84: 2, 0x85: 3, 0x86: 5, 0x8C: 2, 0x8D: 3, 0x8E: 5}
    if first in old:
        version = head[old[first]]
        return version in ((3,) if first < 0x8C else (4, 5, 6))
    if first in (0xC1, 0xC3) and head[1] < 192:
        return head[2] in ((3, 6) if first == 0xC1 else (4, 5, 6))
    return False


def protection_of_header(head: bytes, name: str) -> str | None:
    """The protection a file's first bytes show, or None to look further."""
    if head.startswith((b"age-encryption.org/v1", b"-----BEGIN AGE ENCRYPTED FILE-----")):
        return Protection.AGE
    if head.startswith(b"-----BEGIN PGP MESSAGE-----") or _openpgp_binary(head):
        return Protection.OPENPGP
    if head.startswith(b"SWF1"):
        return Protection.SAFEWARD
    # Tink's streaming AEAD header: its own length (24 or 40 bytes), then salt and nonce prefix.
    if name.lower().endswith(".tink") and head[:1] in (b"\x18", b"\x28"):
        return Protection.TINK
    return None


# --- text -----------------------------------------------------------------------------------------
def _encoding(sample: bytes, budget: Budget) -> str:
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if sample.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample[:65536]).best()
    encoding = best.encoding if best is not None else "latin-1"
    budget.notes.append(f"Not UTF-8: read as {encoding}.")
    return encoding


def read_text(stream: IO[bytes], head: bytes, tally: TextTally, budget: Budget) -> None:
    """Feed text in blocks that end at a line break; constant memory whatever the size."""
    if b"\x00" in head[:8192] and not head.startswith(_TEXT_BOMS):
        raise Unread("Binary content of no supported format.", "unsupported")
    decoder = codecs.getincrementaldecoder(_encoding(head, budget))(errors="replace")
    block_chars = budget.limits.block_bytes
    carry = decoder.decode(head)
    while True:
        chunk = stream.read(budget.limits.block_bytes)
        text = carry + decoder.decode(chunk or b"", final=not chunk)
        if not chunk:
            if text:
                tally.feed(text)
            return
        cut = text.rfind("\n")
        if cut < 0 and len(text) < 4 * block_chars:
            carry = text  # a long line: wait for its end, up to a bound
            continue
        cut = cut if cut >= 0 else len(text) - 1
        tally.feed(text[: cut + 1])
        carry = text[cut + 1 :]


# --- archives and documents -----------------------------------------------------------------------
def _open_zip(stream: IO[bytes], what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise Unread(f"Corrupt {what}: not a readable ZIP container.", "corrupt") from None


def _guard_zip(archive: zipfile.ZipFile, budget: Budget, what: str) -> list[zipfile.ZipInfo]:
    """Refuse bombs before anything inside is parsed."""
    limits = budget.limits
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > limits.max_members:
        raise Unread(f"{what} has {len(members):,} members (limit {limits.max_members:,}): not read.", "bomb")
    declared = 0
    for info in members:
        declared += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > (1 << 20) and ratio > limits.max_ratio:
            raise Unread(
                f"{what} has a member compressed {ratio:,.0f}:1 (limit {limits.max_ratio}:1): "
                "treated as a ZIP bomb.",
                "bomb",
            )
    if declared > limits.max_expanded_bytes:
        raise Unread(
            f"{what} declares {declared:,} bytes expanded (limit {limits.max_expanded_bytes:,}): "
            "treated as a ZIP bomb.",
            "bomb",
        )
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> bytes:
    """A member's bytes, counted as they expand: declared sizes can lie."""
    limit = budget.limits.max_member_bytes
    parts: list[bytes] = []
    size = 0
    with archive.open(info) as member:
        while chunk := member.read(1 << 20):
            size += len(chunk)
            budget.spend(len(chunk))
            if size > limit:
                raise Unread(f"An archive member expands past {limit:,} bytes: not read.", "bomb")
            parts.append(chunk)
    return b"".join(parts)


def read_zip(stream: IO[bytes], tally: TextTally, budget: Budget, depth: int) -> str:
    """Scan every unencrypted member; the archive is protected only when every member is encrypted."""
    budget.kinds.add("zip")
    if depth > budget.limits.max_depth:
        raise Unread(f"Archives nested deeper than {budget.limits.max_depth}: not read.", "bomb")
    archive = _open_zip(stream, "ZIP archive")
    with archive:
        members = _guard_zip(archive, budget, "ZIP archive")
        encrypted = [info for info in members if info.flag_bits & 0x1]
        if members and len(encrypted) == len(members):
            return Protection.ZIP
        if encrypted:
            budget.notes.append(f"{len(encrypted)} of {len(members)} archive members are encrypted.")
        for info in members:
            if info.flag_bits & 0x1:
                continue
            try:
                data = _read_member(archive, info, budget)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
                budget.notes.append("An archive member is corrupt or uses an unsupported compression.")
                continue
            try:
                protection = read_into(io.BytesIO(data), info.filename, tally, budget, depth=depth + 1)
            except Unread as unread:
                if unread.code == "bomb":
                    raise
                budget.notes.append(f"Archive member not read: {unread.reason}")
                continue
            if protection:
                budget.notes.append(f"Archive member protected: {Protection.LABELS[protection]}.")
    return PLAINTEXT


def _feed_lines(lines: list[str], tally: TextTally) -> None:
    if lines:
        tally.feed("\n".join(lines) + "\n")
        lines.clear()


def read_xlsx(stream: IO[bytes], tally: TextTally, budget: Budget) -> None:
    """Each sheet's rows as tab-separated lines, exactly as openpyxl's
    read-only `iter_rows(values_only=True)` gives them; the sheets and shared
    strings Excel writes are read from their XML directly (xlsx_fast, ADR
    1642), anything else through openpyxl."""
    from safeward.assets.discovery import xlsx_fast

    budget.kinds.add("xlsx")
    try:
        workbook = xlsx_fast.load_workbook(stream, budget.limits.max_member_bytes)
    except Exception as error:  # openpyxl raises many kinds on malformed workbooks
        raise Unread(f"Corrupt spreadsheet ({type(error).__name__}).", "corrupt") from None
    try:
        # Blocks of 5,000 lines whatever the sheets (a block's edges decide what a pattern spans).
        pending: list[str] = []
        for sheet in workbook.worksheets:
            lines = xlsx_fast.sheet_lines(workbook, sheet, budget.limits.max_member_bytes)
            if lines is None:  # not the plain form the fast reader knows: openpyxl's rows
                lines = [
                    "\t".join("" if cell is None else str(cell) for cell in row)
                    for row in sheet.iter_rows(values_only=True)
                ]
            pending.extend(lines)
            whole = len(pending) - len(pending) % 5000
            for start in range(0, whole, 5000):
                _feed_lines(pending[start : start + 5000], tally)
            del pending[:whole]
        _feed_lines(pending, tally)
    except Exception as error:
        raise Unread(f"Corrupt spreadsheet ({type(error).__name__}).", "corrupt") from None
    finally:
        workbook.close()


def read_docx(stream: IO[bytes], tally: TextTally, budget: Budget) -> None:
    """The paragraphs, then the tables' rows, as python-docx gives them (their
    text read from its parsed tree without XPath: docx_fast, ADR 1643)."""
    import docx

    from safeward.assets.discovery import docx_fast

    budget.kinds.add("docx")
    try:
        lines = docx_fast.document_lines(docx.Document(stream))
    except Exception as error:  # python-docx raises many kinds on malformed documents
        raise Unread(f"Corrupt Word document ({type(error).__name__}).", "corrupt") from None
    _feed_lines(lines, tally)


# pdftotext's crop box, far larger than any page: text set outside the page's
# media box (a line run past the margin) is read, as pypdf reads it.
_PDFTOTEXT_AREA = ("-x", "-1000000", "-y", "-1000000", "-W", "2000000", "-H", "2000000")


def pdftotext_pages(stream: IO[bytes], pages: int, limits: Limits) -> list[str] | None:
    """The text of the first `pages` pages through poppler's pdftotext (ADR
    1644), each ending in a line break, or None when the tool is not
    installed or does not give exactly `pages` pages (it failed, timed out,
    hit a limit, or counts pages differently): the caller then uses pypdf.
    No shell; a private copy of the PDF goes in on standard input, the
    text out to a file.
    util-linux's prlimit starts it under address-space, CPU and file-size
    limits (set before exec, unlike a `preexec_fn`, which may deadlock the
    child of a threaded server)."""
    tool, prlimit = shutil.which("pdftotext"), shutil.which("prlimit")
    if tool is None or prlimit is None:
        return None
    bounded = [
        prlimit,
        f"--as={limits.pdftotext_memory_bytes}",
        f"--cpu={limits.pdftotext_seconds}",
        f"--fsize={limits.max_expanded_bytes}",
        "--",
    ]
    with tempfile.TemporaryDirectory(prefix="safeward-pdf-") as name:
        folder = Path(name)
        try:
            with (folder / "in.pdf").open("w+b") as source, (folder / "out.txt").open("w+b") as output:
                # The child reads a private copy: given the scanner's own descriptor it
                # would move the offset under the buffered reader pypdf goes on using.
                stream.seek(0)
                shutil.copyfileobj(stream, source)
                source.seek(0)
                completed = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                    [*bounded, tool, "-q", "-enc", "UTF-8", "-l", str(pages), *_PDFTOTEXT_AREA, "-", "-"],
                    stdin=source,
                    stdout=output,
                    stderr=subprocess.DEVNULL,
                    timeout=limits.pdftotext_seconds,
                    check=False,
                )
                if completed.returncode != 0:
                    return None
                output.seek(0)
                text = output.read().decode("utf-8", errors="replace")
        except (OSError, subprocess.SubprocessError):
            return None
    texts = text.split("\f")
    # Each page ends in a form feed: what follows the last one is empty.
    if len(texts) != pages + 1 or texts[-1]:
        return None
    return [page if page.endswith("\n") else page + "\n" for page in texts[:-1]]


def read_pdf(stream: IO[bytes], tally: TextTally, budget: Budget) -> str:
    """Whether the PDF is protected, and its page count, from pypdf; the
    pages' text from pdftotext when it is installed (ADR 1644), else pypdf's."""
    from pypdf import PdfReader

    budget.kinds.add("pdf")
    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            if not reader.decrypt(""):
                return Protection.PDF
            budget.notes.append("PDF encrypted with an empty user password: readable by anyone.")
        pages = reader.pages
        count = len(pages)
    except Exception as error:  # pypdf raises many kinds on malformed files
        raise Unread(f"Corrupt PDF ({type(error).__name__}).", "corrupt") from None
    if count > budget.limits.max_pdf_pages:
        budget.notes.append(f"Only the first {budget.limits.max_pdf_pages:,} of {count:,} pages were read.")
    read = min(count, budget.limits.max_pdf_pages)
    texts = pdftotext_pages(stream, read, budget.limits) if read else []
    if texts is not None:
        for text in texts:
            tally.feed(text)
        return PLAINTEXT
    failed = 0
    for number in range(read):
        try:
            text = pages[number].extract_text() or ""
        except Exception:
            failed += 1
            continue
        tally.feed(text + "\n")
    if failed:
        budget.notes.append(f"Text of {failed} PDF pages could not be extracted.")
    return PLAINTEXT


def _office_kind(archive: zipfile.ZipFile) -> str:
    names = set(archive.namelist())
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return ""


def _read_ole(stream: IO[bytes], budget: Budget) -> str:
    import msoffcrypto
    from msoffcrypto.exceptions import FileFormatError

    try:
        encrypted = msoffcrypto.OfficeFile(stream).is_encrypted()
    except (FileFormatError, OSError, ValueError, KeyError, AssertionError):
        encrypted = False
    except Exception as error:
        raise Unread(f"Corrupt OLE compound file ({type(error).__name__}).", "corrupt") from None
    if encrypted:
        budget.kinds.add("office")
        return Protection.OFFICE
    raise Unread("Legacy Office binary format (.doc/.xls/.ppt) is not read.", "unsupported")


def read_into(stream: IO[bytes], name: str, tally: TextTally, budget: Budget, *, depth: int = 0) -> str:
    """Feed the text of `stream` to `tally`; return its protection (PLAINTEXT when readable)."""
    head = stream.read(budget.limits.block_bytes)
    protection = protection_of_header(head, name)
    if protection:
        return protection
    if head.startswith(_ZIP_HEADS):
        stream.seek(0)
        archive = _open_zip(stream, "ZIP container")
        kind = _office_kind(archive)
        if not kind:
            archive.close()
            stream.seek(0)
            return read_zip(stream, tally, budget, depth)
        with archive:
            _guard_zip(archive, budget, "Office document")
            stream.seek(0)
            if kind == "xlsx":
                read_xlsx(stream, tally, budget)
            else:
                read_docx(stream, tally, budget)
        return PLAINTEXT
    if head.startswith(_OLE):
        stream.seek(0)
        return _read_ole(stream, budget)
    if head.startswith(b"%PDF-"):
        stream.seek(0)
        return read_pdf(stream, tally, budget)
    lower = name.lower()
    budget.kinds.add(next((kind for kind in ("csv", "tsv", "json") if lower.endswith("." + kind)), "text"))
    read_text(stream, head, tally, budget)
    return PLAINTEXT

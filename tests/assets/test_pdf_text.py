"""PDF text through poppler's pdftotext when it is installed (ADR 1644), and
pypdf whenever it is not, or fails, or hits a limit: the same text either way
on the PDFs the scanner's tests and benchmark write."""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PageObject, PdfReader

from safeward.assets.discovery import formats
from safeward.assets.discovery.detectors import TextTally
from safeward.assets.discovery.engine import Scanner, plan
from safeward.assets.discovery.formats import Budget, Limits, pdftotext_pages, read_into
from safeward.demo.share_files import write_pdf

POPPLER = shutil.which("pdftotext") and shutil.which("prlimit")
needs_poppler = pytest.mark.skipif(
    not POPPLER,
    reason="poppler-utils (pdftotext) or prlimit is not installed: the pypdf path is tested instead",
)
needs_prlimit = pytest.mark.skipif(
    not shutil.which("prlimit"), reason="util-linux's prlimit is not installed"
)

LINES = [
    "Jane Doe, DOB 1980-02-03, MRN DEMO-00001, SSN 123-45-6789, phone +1 555 201 4567",
    # Longer than the page is wide: pdftotext drops text outside its crop box unless told otherwise.
    "John Roe, DOB 1975-11-30, MRN DEMO-00002, lives at 12 Main Street, "
    + "call back later " * 12
    + "at (555) 303-1212",
    "",
    "(brackets) and \\ backslashes, caf\u00e9",
]


def pypdf_pages(path: Path) -> list[str]:
    return [(page.extract_text() or "") + "\n" for page in PdfReader(path).pages]


def scan(path: Path, limits: Limits | None = None) -> TextTally:
    tally = TextTally()
    with path.open("rb") as stream:
        assert read_into(stream, path.name, tally, Budget(limits or Limits())) == ""
    return tally


def fake_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    tool = tmp_path / "pdftotext"
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)
    which = shutil.which
    # The module looks the tool up through shutil.which (formats' own shutil).
    monkeypatch.setattr(shutil, "which", lambda name: str(tool) if name == "pdftotext" else which(name))


@needs_poppler
@pytest.mark.parametrize("per_page", [1, 2, 50])
def test_pdftotext_gives_pypdf_text_page_by_page(tmp_path, per_page):
    path = write_pdf(tmp_path / "a.pdf", LINES * 3, per_page=per_page)
    with path.open("rb") as stream:
        pages = pdftotext_pages(stream, len(PdfReader(path).pages), Limits())
    assert pages == pypdf_pages(path)


@needs_poppler
def test_pdftotext_reads_the_pages_when_installed(tmp_path, monkeypatch):
    path = write_pdf(tmp_path / "a.pdf", LINES, per_page=2)
    expected = scan(path)
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: pytest.fail("pypdf text used"))
    tally = scan(path)
    assert tally.counts == expected.counts
    assert tally.candidates == expected.candidates
    assert tally.candidates["phone"] == {"+1 555 201 4567", "(555) 303-1212"}


@needs_poppler
@pytest.mark.parametrize("lines", [2, 400], ids=["inside-the-read-buffer", "larger"])
def test_the_engine_gives_pdftotext_the_whole_file_and_reads_on(tmp_path, monkeypatch, lines):
    """Through the scanner (its own buffered descriptor, after pypdf has read
    the file), pdftotext gets the whole PDF: a small one whose bytes all sit
    in the reader's buffer too."""
    path = write_pdf(tmp_path / "a.pdf", [f"MRN DEMO-{n:05d}" for n in range(lines)])
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: pytest.fail("pypdf text used"))
    result = Scanner().scan_entry(next(plan([str(path)])))
    assert result.status == "scanned"
    assert len(result.candidates["mrn"]) == lines


@needs_poppler
def test_pdf_inside_a_zip_goes_to_pdftotext_through_a_file(tmp_path, monkeypatch):
    pdf = write_pdf(tmp_path / "a.pdf", LINES)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(pdf, "inner/a.pdf")
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: pytest.fail("pypdf text used"))
    assert scan(archive).candidates["mrn"] == {"DEMO-00001", "DEMO-00002"}


@needs_poppler
def test_page_limit_is_passed_to_pdftotext(tmp_path):
    path = write_pdf(tmp_path / "a.pdf", [f"MRN DEMO-{n:05d}" for n in range(6)], per_page=1)
    tally = TextTally()
    budget = Budget(Limits(max_pdf_pages=2))
    with path.open("rb") as stream:
        read_into(stream, "a.pdf", tally, budget)
    assert tally.candidates["mrn"] == {"DEMO-00000", "DEMO-00001"}
    assert budget.notes == ["Only the first 2 of 6 pages were read."]


@needs_poppler
def test_pdftotext_output_past_the_limit_falls_back(tmp_path):
    """A page whose text expands past the budget kills the child (RLIMIT_FSIZE): pypdf reads it, as before."""
    path = write_pdf(tmp_path / "a.pdf", LINES * 40)
    with path.open("rb") as stream:
        assert pdftotext_pages(stream, 1, Limits(max_expanded_bytes=1000)) is None


@needs_poppler
def test_a_page_count_pdftotext_disagrees_with_falls_back(tmp_path):
    path = write_pdf(tmp_path / "a.pdf", LINES)
    with path.open("rb") as stream:
        assert pdftotext_pages(stream, 2, Limits()) is None


def test_without_pdftotext_pypdf_reads_the_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(formats.shutil, "which", lambda name: None)
    calls = []
    extract = PageObject.extract_text
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: calls.append(1) or extract(self))
    tally = scan(write_pdf(tmp_path / "a.pdf", LINES, per_page=2))
    assert len(calls) == 2
    assert tally.candidates["mrn"] == {"DEMO-00001", "DEMO-00002"}
    assert tally.candidates["phone"] == {"+1 555 201 4567", "(555) 303-1212"}


@needs_prlimit
def test_a_failing_pdftotext_falls_back_to_pypdf(tmp_path, monkeypatch):
    path = write_pdf(tmp_path / "a.pdf", LINES)
    monkeypatch.setattr(formats.shutil, "which", lambda name: None)
    expected = scan(path)
    fake_tool(tmp_path, monkeypatch, "echo 'MRN FAKE-99999'; exit 1")
    tally = scan(path)
    assert tally.candidates == expected.candidates
    assert tally.counts == expected.counts


@needs_prlimit
def test_output_of_the_wrong_shape_falls_back_to_pypdf(tmp_path, monkeypatch):
    # No page separators: not what pdftotext writes for one page, so not trusted.
    path = write_pdf(tmp_path / "a.pdf", LINES)
    fake_tool(tmp_path, monkeypatch, "echo 'MRN FAKE-99999'")
    assert "FAKE-99999" not in scan(path).candidates["mrn"]


@needs_prlimit
def test_a_hanging_pdftotext_is_stopped_at_the_timeout(tmp_path, monkeypatch):
    path = write_pdf(tmp_path / "a.pdf", LINES)
    fake_tool(tmp_path, monkeypatch, "exec sleep 30")
    started = time.monotonic()
    with path.open("rb") as stream:
        assert pdftotext_pages(stream, 1, Limits(pdftotext_seconds=1)) is None
    assert time.monotonic() - started < 20


@needs_prlimit
def test_the_child_gets_no_shell_and_bounded_resources(tmp_path, monkeypatch):
    """The PDF arrives on standard input, never as a path or through a shell,
    and the child runs under the address-space, CPU and file-size limits."""
    record = tmp_path / "record"
    fake_tool(
        tmp_path,
        monkeypatch,
        f'echo "$@" > {record}; for limit in v t f; do ulimit -$limit >> {record}; done; cat > /dev/null',
    )
    path = write_pdf(tmp_path / "a.pdf", LINES)
    limits = Limits(pdftotext_seconds=7, pdftotext_memory_bytes=1 << 30, max_expanded_bytes=1 << 20)
    with path.open("rb") as stream:
        pdftotext_pages(stream, 1, limits)
    arguments, *limit_lines = record.read_text().splitlines()
    assert arguments.split()[-2:] == ["-", "-"]
    assert str(tmp_path) not in arguments
    assert limit_lines == [str((1 << 30) // 1024), "7", str((1 << 20) // 512)]


def test_without_prlimit_pdftotext_is_not_run(tmp_path, monkeypatch):
    fake_tool(tmp_path, monkeypatch, "echo 'MRN FAKE-99999'; printf '\\f'")
    which = formats.shutil.which
    monkeypatch.setattr(formats.shutil, "which", lambda name: None if name == "prlimit" else which(name))
    assert "FAKE-99999" not in scan(write_pdf(tmp_path / "a.pdf", LINES)).candidates["mrn"]


@needs_prlimit
def test_a_fake_pdftotext_is_believed_when_it_gives_the_pages(tmp_path, monkeypatch):
    """The check above is not vacuous: the same fake with prlimit present is read."""
    fake_tool(tmp_path, monkeypatch, "cat > /dev/null; echo 'MRN FAKE-99999'; printf '\\f'")
    assert "FAKE-99999" in scan(write_pdf(tmp_path / "a.pdf", LINES)).candidates["mrn"]


def test_in_memory_member_without_pdftotext(tmp_path, monkeypatch):
    monkeypatch.setattr(formats.shutil, "which", lambda name: None)
    data = write_pdf(tmp_path / "a.pdf", LINES).read_bytes()
    tally = TextTally()
    read_into(io.BytesIO(data), "a.pdf", tally, Budget(Limits()))
    assert tally.candidates["mrn"] == {"DEMO-00001", "DEMO-00002"}

"""The PHI discovery engine alone (no database): formats, patterns,
protection, incremental skips and every hostile input of issue 13."""

from __future__ import annotations

import errno
import io
import os
import zipfile
from pathlib import Path

import pytest

from safeward.assets.discovery import engine as engine_module
from safeward.assets.discovery.engine import Entry, Prior, Scanner, Status, plan
from safeward.assets.discovery.formats import Limits, Protection
from safeward.demo.share_files import (
    write_csv,
    write_docx,
    write_encrypted_office,
    write_encrypted_zip,
    write_pdf,
    write_xlsx,
)

HEADER = ["mrn", "name", "birth_date", "ssn", "phone", "email"]
ROWS = [
    ["DEMO-00001", "Jane Doe", "1980-02-03", "123-45-6789", "+1 555 201 4567", "jane@example.org"],
    ["DEMO-00002", "John Roe", "1975-11-30", "219-09-9999", "(555) 303-1212", "john@example.org"],
]
LINES = [",".join(row) for row in ROWS]


def scan(path: Path, scanner: Scanner | None = None, prior: Prior | None = None):
    scanner = scanner or Scanner()
    entries = list(plan([str(path)]))
    assert len(entries) == 1
    return scanner.scan_entry(entries[0], prior)


def by_name(root: Path, scanner: Scanner | None = None) -> dict[str, engine_module.FileResult]:
    scanner = scanner or Scanner()
    return {Path(e.path).name: scanner.scan_entry(e) for e in plan([str(root)])}


# --- formats and patterns --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "writer",
    [
        lambda p: write_csv(p / "a.csv", HEADER, ROWS),
        lambda p: write_xlsx(p / "a.xlsx", HEADER, ROWS),
        lambda p: write_docx(p / "a.docx", LINES),
        lambda p: write_pdf(p / "a.pdf", LINES),
        lambda p: (
            (p / "a.json").write_text(
                '[{"mrn": "DEMO-00001", "name": "Jane Doe", "dob": "1980-02-03", "ssn": "123-45-6789", '
                '"phone": "+1 555 201 4567", "email": "jane@example.org"}, '
                '{"mrn": "DEMO-00002", "name": "John Roe", "dob": "1975-11-30", "ssn": "219-09-9999", '
                '"phone": "(555) 303-1212", "email": "john@example.org"}]'
            )
            and p / "a.json"
        ),
        lambda p: (p / "a.txt").write_text("\n".join(LINES)) and p / "a.txt",
    ],
    ids=["csv", "xlsx", "docx", "pdf", "json", "txt"],
)
def test_every_format_yields_the_same_candidates_and_counts(tmp_path, writer):
    result = scan(writer(tmp_path))
    assert result.status == Status.SCANNED
    assert not result.encrypted
    assert result.candidates["mrn"] == {"DEMO-00001", "DEMO-00002"}
    assert result.candidates["national_id"] == {"123-45-6789", "219-09-9999"}
    assert result.candidates["birth_date"] == {"1980-02-03", "1975-11-30"}
    assert len(result.candidates["phone"]) == 2
    assert result.counts["ssn"] == 1  # 219-09-9999 has the shape but is not a valid SSN
    assert result.counts["email"] == 2
    assert result.counts["dob_with_name"] == 2
    assert len(result.sha256) == 64


def test_zip_members_are_read(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("patients.csv", "\n".join(LINES))
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as nested:
            nested.writestr("notes.txt", "Diagnosis E11.9 at 12 Harbor Street")
        handle.writestr("nested.zip", inner.getvalue())
    result = scan(archive)
    assert result.candidates["mrn"] == {"DEMO-00001", "DEMO-00002"}
    assert result.counts["icd10"] == 1
    assert result.counts["address"] == 1
    assert "zip" in result.kinds


def test_patterns_in_prose(tmp_path):
    text = (
        "Seen: DOE, Jane  DOB 03/02/1980  SSN 078-05-1121\n"
        "Dx I10 and E11.65; call 555.201.4567 or write to 4 Elm Road.\n"
        "MRN: 00123456\n"
        "Meeting at 10:30 on 2024-05-06 about the budget.\n"
    )
    path = tmp_path / "note.txt"
    path.write_text(text)
    result = scan(path)
    assert result.counts["dob_with_name"] == 1  # the meeting date stands next to no name
    assert result.counts["icd10"] == 1  # dotted codes only: "I10" alone is too common a token
    assert result.counts["phone"] == 1
    assert result.counts["address"] == 1
    assert "00123456" in result.candidates["mrn"]
    assert result.candidates["birth_date"] == {"1980-03-02", "2024-05-06"}


def test_clean_document_has_no_hits(tmp_path):
    path = write_docx(tmp_path / "policy.docx", ["Hand hygiene policy", "Wash hands for 20 seconds."])
    result = scan(path)
    assert result.status == Status.SCANNED
    assert sum(result.counts.values()) == 0


# --- protection ----------------------------------------------------------------------------------------
def test_encrypted_zip(tmp_path):
    path = write_encrypted_zip(tmp_path / "e.zip", {"p.csv": "\n".join(LINES).encode()}, password="pw")
    result = scan(path)
    assert result.protection == Protection.ZIP
    assert result.encrypted
    assert not any(result.candidates.get(kind) for kind in ("mrn", "national_id"))


def test_encrypted_pdf_and_empty_password_pdf(tmp_path):
    assert scan(write_pdf(tmp_path / "e.pdf", LINES, password="secret")).protection == Protection.PDF
    open_pdf = scan(write_pdf(tmp_path / "o.pdf", LINES, password=""))
    assert not open_pdf.encrypted
    assert open_pdf.candidates["mrn"] == {"DEMO-00001", "DEMO-00002"}
    assert any("empty user password" in note for note in open_pdf.notes)


def test_encrypted_office(tmp_path):
    plain = write_docx(tmp_path / "plain.docx", LINES)
    result = scan(write_encrypted_office(tmp_path / "e.docx", plain, password="pw"))
    assert result.protection == Protection.OFFICE


@pytest.mark.parametrize(
    ("head", "protection"),
    [
        (b"age-encryption.org/v1\n-> X25519 abc\n", Protection.AGE),
        (b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", Protection.AGE),
        (b"-----BEGIN PGP MESSAGE-----\n\nhQEMA\n", Protection.OPENPGP),
        (b"\x8c\x0d\x04\x09\x03\x08" + bytes(range(40)), Protection.OPENPGP),  # gpg -c: SKESK v4
        (b"\x85\x01\x0c\x03" + bytes(range(40)), Protection.OPENPGP),  # gpg -e: PKESK v3
        (b"SWF1\x00\x00\x00\x07" + bytes(range(64)), Protection.SAFEWARD),
    ],
    ids=["age", "age-armored", "openpgp-armored", "openpgp-skesk", "openpgp-pkesk", "safeward"],
)
def test_encryption_headers(tmp_path, head, protection):
    path = tmp_path / "blob.bin"
    path.write_bytes(head)
    assert scan(path).protection == protection


def test_tink_stream_by_extension_and_header(tmp_path):
    path = tmp_path / "backup.tink"
    path.write_bytes(b"\x28" + os.urandom(200))
    assert scan(path).protection == Protection.TINK


# --- incremental -----------------------------------------------------------------------------------
def test_unchanged_size_and_mtime_is_not_read(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "a.csv", HEADER, ROWS)
    first = scan(path)
    monkeypatch.setattr(Scanner, "_hash", lambda self, stream: pytest.fail("read again"))
    again = scan(path, prior=Prior(first.size, first.mtime_ns, first.sha256))
    assert again.status == Status.UNCHANGED
    assert again.sha256 == first.sha256


def test_touched_but_same_content_is_hashed_not_parsed(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "a.csv", HEADER, ROWS)
    first = scan(path)
    os.utime(path, ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))
    monkeypatch.setattr(engine_module, "read_into", lambda *a, **k: pytest.fail("parsed again"))
    again = scan(path, prior=Prior(first.size, first.mtime_ns, first.sha256))
    assert again.status == Status.UNCHANGED


def test_changed_content_is_read(tmp_path):
    path = write_csv(tmp_path / "a.csv", HEADER, ROWS[:1])
    first = scan(path)
    write_csv(path, HEADER, ROWS)
    again = scan(path, prior=Prior(first.size, first.mtime_ns, first.sha256))
    assert again.status == Status.SCANNED
    assert len(again.candidates["mrn"]) == 2


def test_large_text_is_streamed_across_blocks(tmp_path):
    path = tmp_path / "big.csv"
    line = "x" * 90 + "\n"
    with path.open("w") as handle:
        for number in range(30_000):  # ~2.7 MB with block size 64 KiB: many blocks
            handle.write(line if number % 1000 else f"DEMO-{number:05d},123-45-{number % 10000:04d}\n")
    result = scan(path, Scanner(limits=Limits(block_bytes=64 * 1024)))
    assert len(result.candidates["mrn"]) == 30


# --- hostile input ---------------------------------------------------------------------------------
def test_corrupt_files_get_a_reason(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04" + os.urandom(300))
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(300))
    (tmp_path / "bad.xlsx").write_bytes(
        zip_with({"xl/workbook.xml": b"<not xml", "[Content_Types].xml": b"?"})
    )
    (tmp_path / "bad.docx").write_bytes(
        zip_with({"word/document.xml": b"<w:document", "[Content_Types].xml": b"?"})
    )
    (tmp_path / "bad.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(600))
    results = by_name(tmp_path)
    for name in ("bad.zip", "bad.pdf", "bad.xlsx", "bad.docx"):
        assert results[name].status == Status.SKIPPED, name
        assert results[name].code == "corrupt", name
        assert results[name].reason
    assert results["bad.doc"].status == Status.SKIPPED
    assert results["bad.doc"].code in (
        "corrupt",
        "unsupported",
    )


def zip_with(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as handle:
        for name, data in members.items():
            handle.writestr(name, data)
    return buffer.getvalue()


def test_zip_bomb_by_ratio(tmp_path):
    (tmp_path / "bomb.zip").write_bytes(zip_with({"zeros.csv": b"0" * (8 << 20)}))
    result = scan(tmp_path / "bomb.zip")
    assert result.code == "bomb"
    assert "compressed" in result.reason


def test_zip_bomb_by_declared_total(tmp_path):
    (tmp_path / "wide.zip").write_bytes(
        zip_with({f"{i}.txt": os.urandom(1 << 20) for i in range(3)}, zipfile.ZIP_STORED)
    )
    result = scan(tmp_path / "wide.zip", Scanner(limits=Limits(max_expanded_bytes=2 << 20)))
    assert result.code == "bomb"
    assert "declares" in result.reason


def test_zip_bomb_lying_about_its_size(tmp_path):
    """A member whose header declares a small size but expands further is stopped as it expands."""
    data = bytearray(zip_with({"a.txt": b"A" * 300_000}, zipfile.ZIP_STORED))
    # Rewrite the declared sizes (local header and central directory) to 1,000 bytes.
    for marker, offset in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        at = data.find(marker)
        data[at + offset + 4 : at + offset + 8] = (1000).to_bytes(4, "little")
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    result = scan(tmp_path / "liar.zip", Scanner(limits=Limits(max_member_bytes=100_000)))
    assert result.status == Status.SKIPPED or any("corrupt" in note for note in result.notes)


def test_zip_bomb_by_nesting(tmp_path):
    blob = b"DEMO-00001"
    for _ in range(5):
        blob = zip_with({"inner.zip": blob})
    (tmp_path / "deep.zip").write_bytes(blob)
    result = scan(tmp_path / "deep.zip", Scanner(limits=Limits(max_depth=2)))
    assert result.code == "bomb"
    assert "nested" in result.reason


def test_too_many_members(tmp_path):
    (tmp_path / "many.zip").write_bytes(zip_with({f"{i}.txt": b"" for i in range(30)}))
    result = scan(tmp_path / "many.zip", Scanner(limits=Limits(max_members=20)))
    assert result.code == "bomb"
    assert "members" in result.reason


def test_symlinks_are_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    write_csv(outside / "secret.csv", HEADER, ROWS)
    root = tmp_path / "share"
    (root / "sub").mkdir(parents=True)
    write_csv(root / "sub" / "inside.csv", HEADER, ROWS)
    (root / "to_secret.csv").symlink_to(outside / "secret.csv")
    (root / "to_outside_dir").symlink_to(outside)
    (root / "sub" / "loop_dir").symlink_to(root)  # a directory loop
    (root / "self_b").symlink_to(root / "self_a")
    (root / "self_a").symlink_to(root / "self_b")  # a link loop
    (root / "alias.csv").symlink_to(root / "sub" / "inside.csv")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    results = {os.path.relpath(e.path, root): Scanner().scan_entry(e) for e in plan([str(root)])}
    assert results["to_secret.csv"].code == "link_outside"
    assert results["to_outside_dir"].code == "link_outside"
    assert results["self_a"].code == "link_loop"
    assert results["self_b"].code == "link_loop"
    assert results["sub/loop_dir"].code == "link"
    assert results["alias.csv"].code == "link"
    assert results["dangling"].code == "link_dangling"
    assert results["sub/inside.csv"].status == Status.SCANNED
    scanned = [path for path, result in results.items() if result.status == Status.SCANNED]
    assert scanned == ["sub/inside.csv"]  # nothing outside, nothing twice


def test_file_swapped_for_a_link_after_listing_is_refused(tmp_path):
    outside = write_csv(tmp_path / "secret.csv", HEADER, ROWS)
    root = tmp_path / "share"
    root.mkdir()
    target = root / "a.csv"
    target.write_text("clean")
    (entry,) = plan([str(root)])
    target.unlink()
    (target).symlink_to(outside)
    result = Scanner().scan_entry(entry)
    assert result.status == Status.SKIPPED
    assert result.code == "link"


def test_unreadable_file(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "locked.csv", HEADER, ROWS)
    real_open = os.open

    def refuse(file, flags, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(engine_module.os, "open", refuse)
    result = scan(path)
    assert result.status == Status.SKIPPED
    assert result.code == "unreadable"
    assert "Permission denied" in result.reason


def test_pipe_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    result = by_name(tmp_path)["pipe"]
    assert result.code == "special"


def test_non_utf8_text(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(
        "Patient: Zoë Müller, né le 03.02.1980, SSN 078-05-1121 \xe9\n".encode("cp1252", "replace")
    )
    result = scan(path)
    assert result.status == Status.SCANNED
    assert result.counts["ssn"] == 1
    assert "1980-02-03" in result.candidates["birth_date"]
    assert any("Not UTF-8" in note for note in result.notes)


def test_binary_file_of_no_known_format(tmp_path):
    path = tmp_path / "blob.dat"
    path.write_bytes(b"\x00\x01\x02" * 1000)
    result = scan(path)
    assert result.code == "unsupported"


def test_ten_gigabyte_sparse_file_is_recorded_not_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(10 * (1 << 30))
    monkeypatch.setattr(Scanner, "_hash", lambda self, stream: pytest.fail("read"))
    result = scan(path)
    assert result.status == Status.SKIPPED
    assert result.code == "too_large"
    assert result.size == 10 * (1 << 30)


def test_missing_root(tmp_path):
    result = Scanner().scan_entry(next(plan([str(tmp_path / "gone")])))
    assert result.code == "unreadable"


def test_entry_with_a_reason_is_not_opened(tmp_path):
    result = Scanner().scan_entry(Entry("/etc/passwd", "/srv", reason="x", code="link_outside"))
    assert result.status == Status.SKIPPED
    assert not result.sha256


# --- throughput work keeps what is found (ADR 0812) --------------------------------------------------
def test_the_fast_ssn_check_agrees_with_python_stdnum():
    import random

    from stdnum.us import ssn as us_ssn

    from safeward.assets.discovery.detectors import ssn_valid

    rng = random.Random(12)
    values = [
        f"{rng.randint(0, 999):03d}{sep}{rng.randint(0, 99):02d}{sep}{rng.randint(0, 9999):04d}"
        for sep in "- "
        for _ in range(5_000)
    ]
    values += ["078-05-1120", "457-55-5462", "219-09-9999", "000-12-3456", "666-12-3456", "900-12-3456"]
    values += ["123-00-4567", "123-45-0000", "123-45-6789", "123 45 6789", "\u0661\u0662\u0663-45-6789"]
    assert [ssn_valid(v) for v in values] == [us_ssn.is_valid(v) for v in values]
    assert ssn_valid("123-45-6789")
    assert not ssn_valid("078-05-1120")


def test_worker_processes_find_exactly_what_one_process_finds(tmp_path):
    write_csv(tmp_path / "a.csv", HEADER, ROWS * 50)
    write_xlsx(tmp_path / "b.xlsx", HEADER, ROWS)
    write_pdf(tmp_path / "c.pdf", LINES)
    (tmp_path / "d.txt").write_text("\n".join(LINES * 20))
    (tmp_path / "gone.csv").symlink_to(tmp_path / "missing.csv")
    (tmp_path / "e.bin").write_bytes(b"\x00\x01binary" * 100)
    entries = list(plan([str(tmp_path)]))
    serial = list(Scanner().scan_all(entries, {}))
    parallel = list(Scanner(workers=2, parallel_min_bytes=0).scan_all(entries, {}))
    assert [r.path for r in parallel] == [e.path for e in entries]
    assert [(r.status, r.code, r.sha256, r.counts, r.candidates) for r in parallel] == [
        (r.status, r.code, r.sha256, r.counts, r.candidates) for r in serial
    ]
    assert {r.code for r in parallel} >= {"link_dangling", "unsupported"}
    assert sum(r.counts["ssn"] for r in parallel) > 0
    # A prior that says "unchanged" is honoured in the workers too.
    first = parallel[0]
    prior = {first.path: Prior(first.size, first.mtime_ns, first.sha256)}
    again = list(Scanner(workers=2, parallel_min_bytes=0).scan_all(entries, prior))
    assert again[0].status == Status.UNCHANGED


def test_names_beside_valid_dates_become_name_and_birth_date_candidates(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(
        "DEMO-00005,Quist,Ada,1980-02-03,Cardiology\n"
        "Jane O'Neil-Smith born 02/03/1970\n"
        "no name here 1999-01-01\n"
        "Ada Quist 1980-02-30 is no date\n"
    )
    candidates = scan(path).candidates["name_dob"]
    assert {"Quist|1980-02-03", "Ada|1980-02-03", "O'Neil-Smith|1970-02-03", "Jane|1970-02-03"} <= candidates
    assert not any(value.endswith(("1999-01-01", "1980-02-30")) for value in candidates)


def test_an_unchanged_rescan_starts_no_workers(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("\n".join(LINES))
    (tmp_path / "b.txt").write_text("\n".join(LINES))
    entries = list(plan([str(tmp_path)]))
    first = list(Scanner().scan_all(entries, {}))
    priors = {r.path: Prior(r.size, r.mtime_ns, r.sha256) for r in first}

    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started for files that did not change")

    monkeypatch.setattr(engine_module, "ProcessPoolExecutor", no_pool)
    again = list(Scanner(workers=2, parallel_min_bytes=0).scan_all(entries, priors))
    assert [r.status for r in again] == [Status.UNCHANGED, Status.UNCHANGED]

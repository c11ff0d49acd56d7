"""Walking roots and scanning their files, incrementally and safely.

`plan(roots)` lists what is under the roots without following any symbolic
link: a link is recorded with what it is (a loop, dangling, leaving the
root, or pointing inside it, where its target is scanned under its own
path) and never opened. `scan_entry(entry, prior)` opens a regular file
with ``O_NOFOLLOW`` (a file swapped for a link between listing and opening
is refused), skips it unread when its size and mtime are those of the prior
scan, hashes it (SHA-256, streamed), skips parsing when the hash is
unchanged, and otherwise reads it through `formats.read_into`.

Nothing here touches the database: exact matching of the candidates is the
caller's (services), so the engine can be benchmarked and tested alone, and
`Scanner.scan_all` can read files in worker processes (ADR 0812).
"""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import re
import stat
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from safeward.assets.discovery.detectors import DEFAULT_MRN_PATTERN, TextTally
from safeward.assets.discovery.formats import PLAINTEXT, Budget, Limits, Unread, read_into


class Status:
    SCANNED = "scanned"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Prior:
    """What the previous scan saw of a path."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class Entry:
    """One thing found under a root: a regular file to scan, or a reason not to."""

    path: str
    root: str
    size: int = 0
    reason: str = ""
    code: str = ""
    mtime_ns: int = 0


@dataclass
class FileResult:
    path: str
    root: str
    status: str = Status.SCANNED
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""
    kinds: list[str] = field(default_factory=list)
    protection: str = PLAINTEXT
    counts: Counter[str] = field(default_factory=Counter)
    candidates: dict[str, set[str]] = field(default_factory=dict)
    candidates_capped: bool = False
    reason: str = ""
    code: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def encrypted(self) -> bool:
        return self.protection != PLAINTEXT


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _link_entry(path: str, root: str) -> Entry:
    try:
        Path(path).stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Entry(path, root, reason="Symbolic link loop: not followed.", code="link_loop")
        return Entry(path, root, reason="Dangling symbolic link: nothing to read.", code="link_dangling")
    target = os.path.realpath(path)
    if not _inside(target, root):
        return Entry(
            path, root, reason="Symbolic link leaves the scanned root: not followed.", code="link_outside"
        )
    return Entry(
        path,
        root,
        reason="Symbolic link inside the root: its target is scanned under its own path.",
        code="link",
    )


def plan(roots: Iterable[str]) -> Iterator[Entry]:
    """Everything under the roots, depth first in name order, links never followed."""
    for given in roots:
        root = os.path.realpath(given)
        try:
            info = Path(root).stat()
        except OSError:
            yield Entry(root, root, reason="Path does not exist or cannot be read.", code="unreadable")
            continue
        if stat.S_ISREG(info.st_mode):
            yield Entry(root, str(Path(root).parent), size=info.st_size, mtime_ns=info.st_mtime_ns)
            continue
        stack = [root]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as listing:
                    entries = sorted(listing, key=lambda item: item.name)
            except OSError as error:
                yield Entry(
                    directory,
                    root,
                    reason=f"Directory cannot be listed ({error.strerror}).",
                    code="unreadable",
                )
                continue
            subdirectories = []
            for item in entries:
                try:
                    if item.is_symlink():
                        yield _link_entry(item.path, root)
                    elif item.is_dir(follow_symlinks=False):
                        subdirectories.append(item.path)
                    elif item.is_file(follow_symlinks=False):
                        info = item.stat(follow_symlinks=False)
                        yield Entry(item.path, root, size=info.st_size, mtime_ns=info.st_mtime_ns)
                    else:
                        yield Entry(
                            item.path,
                            root,
                            reason="Not a regular file (device, pipe or socket).",
                            code="special",
                        )
                except OSError as error:
                    yield Entry(
                        item.path, root, reason=f"Cannot be examined ({error.strerror}).", code="unreadable"
                    )
            stack.extend(reversed(subdirectories))


def _scan_one(scanner: Scanner, entry: Entry, prior: Prior | None) -> FileResult:
    """A worker process's task: one file, nothing but the engine."""
    return scanner.scan_entry(entry, prior)


@dataclass
class Scanner:
    limits: Limits = field(default_factory=Limits)
    mrn_pattern: str = DEFAULT_MRN_PATTERN
    max_candidates: int = 1_000_000
    # Worker processes reading files at once; 1 reads in the calling process.
    workers: int = 1
    # Less than this much to read is not worth starting workers for.
    parallel_min_bytes: int = 16 << 20

    def __post_init__(self) -> None:
        self._mrn = re.compile(self.mrn_pattern)

    def scan_all(self, entries: Sequence[Entry], priors: Mapping[str, Prior]) -> Iterator[FileResult]:
        """Every entry's result, in the entries' order. With more than one
        worker and enough to read, files are read in worker processes, a
        bounded number ahead of the caller (so memory stays bounded: each
        result holds one file's candidates)."""

        def unchanged(entry: Entry) -> bool:
            prior = priors.get(entry.path)
            return prior is not None and (prior.size, prior.mtime_ns) == (entry.size, entry.mtime_ns)

        # What will probably be read: an incremental rescan of unchanged files starts no workers.
        to_read = [entry for entry in entries if not entry.code and not unchanged(entry)]
        if (
            self.workers <= 1
            or len(to_read) < 2
            or sum(entry.size for entry in to_read) < self.parallel_min_bytes
        ):
            for entry in entries:
                yield self.scan_entry(entry, priors.get(entry.path))
            return
        # forkserver: a clean worker, never a fork of a process holding database connections.
        pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("forkserver")
        )
        window: deque[Future[FileResult] | FileResult] = deque()
        try:
            for entry in entries:
                if entry.code:
                    window.append(self.scan_entry(entry))
                else:
                    window.append(pool.submit(_scan_one, self, entry, priors.get(entry.path)))
                while len(window) > 2 * self.workers:
                    yield _resolved(window.popleft())
            while window:
                yield _resolved(window.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def scan_entry(self, entry: Entry, prior: Prior | None = None) -> FileResult:
        result = FileResult(path=entry.path, root=entry.root)
        if entry.code:
            return self._skipped(result, entry.reason, entry.code)
        try:
            fd = os.open(
                entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
            )
        except OSError as error:
            if error.errno == errno.ELOOP:
                return self._skipped(
                    result, "Replaced by a symbolic link while scanning: not followed.", "link"
                )
            return self._skipped(result, f"Cannot be opened ({error.strerror}).", "unreadable")
        with os.fdopen(fd, "rb") as stream:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return self._skipped(result, "Not a regular file (device, pipe or socket).", "special")
            result.size, result.mtime_ns = info.st_size, info.st_mtime_ns
            if prior and (prior.size, prior.mtime_ns) == (info.st_size, info.st_mtime_ns):
                result.status, result.sha256 = Status.UNCHANGED, prior.sha256
                return result
            if info.st_size > self.limits.max_file_bytes:
                return self._skipped(
                    result,
                    f"Larger than the scan limit of {self.limits.max_file_bytes:,} bytes: not read "
                    "(raise it with --max-file-size).",
                    "too_large",
                )
            try:
                result.sha256 = self._hash(stream)
                if prior and prior.sha256 == result.sha256:
                    result.status = Status.UNCHANGED
                    return result
                stream.seek(0)
                self._read(stream, result)
            except Unread as unread:
                return self._skipped(result, unread.reason, unread.code)
            except OSError as error:
                return self._skipped(
                    result, f"Read failed ({error.strerror or type(error).__name__}).", "unreadable"
                )
        return result

    def _hash(self, stream: object) -> str:
        digest = hashlib.sha256()
        read = stream.read  # type: ignore[attr-defined]
        while chunk := read(self.limits.block_bytes):
            digest.update(chunk)
        return digest.hexdigest()

    def _read(self, stream: object, result: FileResult) -> None:
        tally = TextTally(mrn_pattern=self._mrn, max_candidates=self.max_candidates)
        budget = Budget(self.limits)
        try:
            result.protection = read_into(stream, Path(result.path).name, tally, budget)  # type: ignore[arg-type]
        except RecursionError:
            raise Unread("Structure nested too deeply to parse.", "corrupt") from None
        finally:
            result.kinds = sorted(budget.kinds)
            result.notes = budget.notes
        result.counts = tally.counts
        result.candidates = tally.candidates
        result.candidates_capped = tally.candidates_capped

    @staticmethod
    def _skipped(result: FileResult, reason: str, code: str) -> FileResult:
        result.status, result.reason, result.code = Status.SKIPPED, reason, code
        return result


def _resolved(item: Future[FileResult] | FileResult) -> FileResult:
    return item.result() if isinstance(item, Future) else item

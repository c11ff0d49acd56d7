"""nwipe's log as evidence for a certificate of sanitization (ADR 1110). nwipe
ends its log with a summary table, one row per wiped device:

    ! Device | Status | Thru-put | HH:MM:SS | Model/Serial Number
    ---------------------------------------------------------------
      sda    | Erased |  154 MB/s | 01:48:22 | WDC WD10EZEX/WD-WCC6Y3ABCDEF

and names its version ("nwipe version 0.37" or "nwipe: version 0.37"), the
method ("Invoking method 'PRNG Stream' on /dev/sda") and the verification
("Verifying that /dev/sda is empty" for a full read-back). A log that does not
prove an erasure (no summary, a device -FAILED-, aborted or insane, an
unreadable row) is refused with its line numbers; nothing of it is kept but
its hash and the facts below."""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = re.compile(r"nwipe:?\s+version\s+(\d+(?:\.\d+)+)", re.IGNORECASE)
METHOD = re.compile(r"Invoking method '([^']+)' on (\S+)")
VERIFY = re.compile(r"Verif(?:ying|ied) that (\S+?)'? is empty", re.IGNORECASE)
HEADER = re.compile(r"^\s*!\s*Device\s*\|\s*Status\s*\|")
MAX_LINES = 200_000


@dataclass(frozen=True)
class WipedDevice:
    name: str
    status: str
    model: str
    serial: str


@dataclass(frozen=True)
class NwipeLog:
    version: str
    methods: tuple[str, ...]
    verified: bool
    devices: tuple[WipedDevice, ...]

    @property
    def serials(self) -> set[str]:
        return {d.serial for d in self.devices if d.serial}


class BadLog(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"the nwipe log does not prove an erasure ({len(errors)} problem(s))")
        self.errors = errors


def looks_like_nwipe(data: bytes) -> bool:
    return b"nwipe" in data[:65536].lower() or b"| Status |" in data


def parse(data: bytes) -> NwipeLog:
    """The facts of a complete, successful nwipe run, or BadLog with line numbers."""
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise BadLog([f"the log has more than {MAX_LINES} lines"])
    version = ""
    methods: list[str] = []
    verified = False
    devices: list[WipedDevice] = []
    errors: list[str] = []
    in_table = False
    for number, line in enumerate(lines, start=1):
        if not version and (found := VERSION.search(line)):
            version = found.group(1)
        if (found := METHOD.search(line)) and found.group(1) not in methods:
            methods.append(found.group(1))
        if VERIFY.search(line):
            verified = True
        if HEADER.match(line):
            in_table = True
            continue
        if not in_table:
            continue
        stripped = line.strip()
        if not stripped or set(stripped) <= set("-*"):
            continue
        if "|" not in stripped:
            in_table = False  # the table ended (the throughput line follows)
            continue
        cells = [cell.strip() for cell in stripped.split("|")]
        if len(cells) != 5 or not cells[0]:
            errors.append(
                f"line {number}: a summary row needs 5 cells (device, status, thru-put, time, model/serial)"
            )
            continue
        name, status, _, _, identity = cells
        model, _, serial = identity.rpartition("/") if "/" in identity else ("", "", identity)
        if status.lower() != "erased":
            errors.append(f"line {number}: device {name[:20]} was not erased (status {status[:20]})")
        devices.append(WipedDevice(name[:40], status[:20], model.strip()[:120], serial.strip()[:120]))
    if not devices and not errors:
        errors.append('no summary table ("! Device | Status | ..."): the run did not finish')
    if errors:
        raise BadLog(errors)
    return NwipeLog(version, tuple(methods), verified, tuple(devices))


def certificate_problems(log: NwipeLog, *, media_serial: str, verification: str) -> list[str]:
    """Where the certificate claims more than its nwipe log shows."""
    problems = []
    if log.serials and media_serial.strip() not in log.serials:
        problems.append(
            f"media_serial {media_serial.strip()[:40]} is not among the serials the nwipe log erased"
            f" ({', '.join(sorted(log.serials))[:200]})"
        )
    if verification == "full" and not log.verified:
        problems.append("verification is full but the nwipe log shows no verification pass")
    return problems

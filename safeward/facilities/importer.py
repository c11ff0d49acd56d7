"""Door-event files: CSV (header: credential_id,door,area,time,result,direction)
or JSON (a list of objects with those fields, or {"events": [...]}), and the
syslog line format of door controllers (ADR 1100):

    <PRI>... DOOR cred=<credential> door=<door> area=<area>
             time=<ISO 8601 with offset> result=granted|denied dir=in|out

(one line on the wire; area is optional)

Anything before "DOOR " (syslog header, host name) is ignored; fields are
key=value separated by spaces, in any order."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from safeward.facilities.services import FIELDS, ImportRejected

MAX_BYTES = 512 * 1024 * 1024


def rows_from_bytes(data: bytes, *, name: str) -> tuple[list[dict[str, Any]], int]:
    """(rows, number of the first data row as the person sees it in the file)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRejected(["the file is not UTF-8 text"]) from None
    stripped = text.lstrip()
    if name.lower().endswith(".json") or stripped.startswith(("[", "{")):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise ImportRejected([f"not valid JSON (line {error.lineno}: {error.msg})"]) from None
        if isinstance(loaded, dict):
            loaded = loaded.get("events")
        if not isinstance(loaded, list):
            raise ImportRejected(['JSON must be a list of events or {"events": [...]}'])
        return loaded, 1
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [f for f in FIELDS if f not in header and f != "direction"]
    if missing:
        raise ImportRejected([f"the CSV header lacks: {', '.join(missing)} (expected {','.join(FIELDS)})"])
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    return rows, 2  # row 1 is the header


SYSLOG_KEYS = {
    "cred": "credential_id",
    "door": "door",
    "area": "area",
    "time": "time",
    "result": "result",
    "dir": "direction",
}


def parse_syslog_line(line: str) -> dict[str, str] | None:
    """One controller line to an event row; None when it is not a DOOR line."""
    marker = line.find("DOOR ")
    if marker < 0:
        return None
    row: dict[str, str] = {}
    for part in line[marker + 5 :].split():
        key, sep, value = part.partition("=")
        if sep and key in SYSLOG_KEYS:
            row[SYSLOG_KEYS[key]] = value
    return row

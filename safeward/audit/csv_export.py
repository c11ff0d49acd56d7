"""Streaming CSV for exports: cells that a spreadsheet would run as formulas
are defused, and rows go out as they are written."""

from __future__ import annotations

from typing import Any


def csv_safe(value: Any) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


class Echo:
    """A file-like object for csv.writer that hands each row back (StreamingHttpResponse)."""

    def write(self, value: str) -> str:
        return value

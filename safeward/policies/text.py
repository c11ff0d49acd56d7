"""A policy's text: the canonical form that is hashed, the "Markdown-lite"
rendering (headings, lists, paragraphs, bold; every character escaped, raw
HTML never passes) and the line diff between two revisions."""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_BODY = 200_000
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def body_clean(body: str) -> str:
    """Line endings made \\n, trailing spaces dropped; control characters refused."""
    if _CONTROL.search(body):
        raise ValueError("The text holds control characters; paste it as plain text.")
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def content_sha256(*, code: str, number: int, body: str) -> str:
    """SHA-256 of the canonical text of a revision (what was published)."""
    canonical = f"{code}\n{number}\n\n{body}".encode()
    return hashlib.sha256(canonical).hexdigest()


def _inline(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", escape(text))


def render(body: str) -> SafeString:
    """`# ` and `## ` headings, `- ` list items (an indented line continues
    one), `**bold**`, blank-line paragraphs. The text is escaped before any mark is turned into a tag, so
    `<script>` shows as text."""
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()
        if items:
            html.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    for raw in body.split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            html.append(f"<h4>{_inline(line[3:])}</h4>")
        elif line.startswith("# "):
            flush()
            html.append(f"<h3>{_inline(line[2:])}</h3>")
        elif items and raw[:1] in {" ", "\t"}:
            items[-1] += " " + line  # an indented line continues the list item
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(line[2:])
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return mark_safe("\n".join(html))  # noqa: S308 - every piece of text went through escape() above


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed"
    text: str


def diff(old: str, new: str, *, context: int = 2) -> list[DiffLine]:
    """The lines that changed from `old` to `new`, with `context` unchanged
    lines around each change (an ellipsis line between distant changes)."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    rows: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        if index:
            rows.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows.extend(DiffLine("same", line) for line in old_lines[i1:i2])
                continue
            rows.extend(DiffLine("removed", line) for line in old_lines[i1:i2])
            rows.extend(DiffLine("added", line) for line in new_lines[j1:j2])
    return rows

"""Walk the pages a demo role reaches by following links from its dashboard
and navigation, as a person clicking through would. Shared by the action
gating test (Django's test client) and the browser's accessibility walk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

# Never followed: signing out ends the walk, downloads and CSV exports are
# files, not pages; printable views repeat a page.
SKIPPED_PREFIXES = ("/accounts/logout/", "/static/", "/api/", "/fhir/", "/o/")
SKIPPED_SUFFIXES = ("/csv/", "/print/", ".csv")


@dataclass
class PageActions:
    links: list[str] = field(default_factory=list)
    # (method, action path) of every form on the page.
    forms: list[tuple[str, str]] = field(default_factory=list)


class _ActionParser(HTMLParser):
    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.found = PageActions()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and "href" in values and "download" not in values:
            self.found.links.append(values["href"])
        elif tag == "form":
            method = values.get("method", "get").lower()
            self.found.forms.append((method, values.get("action") or self.page_path))


def page_actions(html: str, page_path: str) -> PageActions:
    parser = _ActionParser(page_path)
    parser.feed(html)
    return parser.found


def internal_path(href: str) -> str | None:
    """The site path a link points to (with its query), or None for links
    elsewhere, fragments and skipped kinds."""
    href, _ = urldefrag(href)
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    if parts.path.startswith(SKIPPED_PREFIXES) or parts.path.endswith(SKIPPED_SUFFIXES):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def walk(
    get: Callable[[str], tuple[int, str]], start: list[str], *, limit: int = 60, depth: int = 2
) -> Iterator[tuple[str, int, str]]:
    """Breadth first from `start`: yields (path, status, html) for each page,
    at most `limit` pages, following links `depth` clicks deep. Paths that
    differ only in their query are visited once per path (a list's filters
    and pages are one page)."""
    seen_paths: set[str] = set()
    frontier = [(path, 0) for path in start]
    visited = 0
    while frontier and visited < limit:
        path, level = frontier.pop(0)
        bare = urlsplit(path).path
        if bare in seen_paths:
            continue
        seen_paths.add(bare)
        status, html = get(path)
        visited += 1
        yield path, status, html
        if status != 200 or level >= depth:
            continue
        for href in page_actions(html, bare).links:
            target = internal_path(href)
            if target is not None and urlsplit(target).path not in seen_paths:
                frontier.append((target, level + 1))

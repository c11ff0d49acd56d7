"""The dependency graph of one asset, laid out on the server and drawn as
inline SVG (no script, no inline style: CSP-safe). Columns left to right:
what depends on the asset (up to `DEPTH` hops), the asset, what it depends on
(up to `DEPTH` hops); an asset reachable both ways sits where it is first
found. Every node links to its asset's page."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from safeward.assets.models import Asset, AssetDependency

DEPTH = 3
MAX_PER_COLUMN = 12
NODE_WIDTH = 190
NODE_HEIGHT = 44
COLUMN_GAP = 70
ROW_GAP = 16
MARGIN = 12
MAX_LABEL = 26


@dataclass(frozen=True)
class Node:
    asset_id: int
    label: str
    kind: str
    classification: str
    x: int
    y: int
    centre: bool
    hidden_more: int = 0  # "and N more" when a column is full

    @property
    def text_x(self) -> int:
        return self.x + 10

    @property
    def mid_y(self) -> int:
        return self.y + NODE_HEIGHT // 2


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Graph:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]
    truncated: int  # assets left out because a column was full


def _walk(start: int, links: dict[int, set[int]]) -> dict[int, int]:
    """Hop distance from `start` along `links`, up to DEPTH."""
    seen = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if seen[current] >= DEPTH:
            continue
        for following in sorted(links.get(current, ())):
            if following not in seen:
                seen[following] = seen[current] + 1
                queue.append(following)
    return seen


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def dependency_graph(*, asset: Asset) -> Graph:
    needs: dict[int, set[int]] = {}
    needed_by: dict[int, set[int]] = {}
    for source, target in AssetDependency.objects.values_list("asset_id", "depends_on_id"):
        needs.setdefault(source, set()).add(target)
        needed_by.setdefault(target, set()).add(source)
    column_of: dict[int, int] = {asset.pk: 0}
    for other, hops in _walk(asset.pk, needs).items():
        column_of.setdefault(other, hops)
    for other, hops in _walk(asset.pk, needed_by).items():
        column_of.setdefault(other, -hops)
    assets = {a.pk: a for a in Asset.objects.filter(pk__in=column_of).only("name", "kind", "classification")}
    columns: dict[int, list[int]] = {}
    for asset_id, column in column_of.items():
        if asset_id in assets:
            columns.setdefault(column, []).append(asset_id)
    lowest = min(columns)
    placed: dict[int, Node] = {}
    truncated = 0
    tallest = 0
    for column, members in sorted(columns.items()):
        members.sort(key=lambda pk: assets[pk].name.casefold())
        shown, rest = members[:MAX_PER_COLUMN], members[MAX_PER_COLUMN:]
        truncated += len(rest)
        tallest = max(tallest, len(shown))
        x = MARGIN + (column - lowest) * (NODE_WIDTH + COLUMN_GAP)
        for row, pk in enumerate(shown):
            item = assets[pk]
            placed[pk] = Node(
                asset_id=pk,
                label=_short(item.name),
                kind=item.get_kind_display(),
                classification=item.classification or "unclassified",
                x=x,
                y=MARGIN + row * (NODE_HEIGHT + ROW_GAP),
                centre=pk == asset.pk,
                hidden_more=len(rest) if row == len(shown) - 1 else 0,
            )
    edges = []
    for source, targets in needs.items():
        for target in targets:
            if source in placed and target in placed and column_of[target] == column_of[source] + 1:
                a, b = placed[source], placed[target]
                edges.append(Edge(a.x + NODE_WIDTH, a.mid_y, b.x, b.mid_y))
    width = 2 * MARGIN + len(columns) * NODE_WIDTH + (len(columns) - 1) * COLUMN_GAP
    height = 2 * MARGIN + tallest * NODE_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    return Graph(width=width, height=height, nodes=list(placed.values()), edges=edges, truncated=truncated)

"""axe-core in the browser tests: `axe_violations(page)` runs the vendored
axe-core (tests/e2e/vendor/axe-core, MPL-2.0, ADR 0406) on the page and
returns its serious and critical violations. The script is evaluated through
the DevTools protocol, so it needs no change to the site's CSP."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
BLOCKING = ("serious", "critical")

_RUN = """async (blocking) => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((violation) => blocking.includes(violation.impact))
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.slice(0, 5).map((node) => node.target.join(" ")),
    }));
}"""


@functools.cache
def axe_source() -> str:
    data = AXE_SCRIPT.read_bytes()
    if hashlib.sha256(data).hexdigest() != AXE_SHA256:
        raise RuntimeError(f"{AXE_SCRIPT} is not the vendored axe-core {AXE_VERSION} (hash differs)")
    return data.decode("utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    found: list[dict[str, Any]] = page.evaluate(_RUN, list(BLOCKING))
    return found


def describe(path: str, violations: list[dict[str, Any]]) -> list[str]:
    return [f"{path}: {v['impact']} {v['id']} ({v['help']}) at {', '.join(v['targets'])}" for v in violations]

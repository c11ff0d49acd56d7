"""What keeping search criteria out of URLs and logs costs (ADR 0540).

    .venv/bin/python bench/api_privacy.py [--operations 5000] [--rounds 5]

* cursor: sealing a FHIR Bundle link's `_cursor` (`cursor_issue`: JSON +
  AES-GCM under the data key) and opening it again (`cursor_open`), per link.
* log filter: formatting a log record through `StripQueryStrings` and a
  formatter, against the formatter alone, for a request line with a query.
Rounds alternate; medians of the per-operation times are reported.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import configure, machine, make_user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    configure()

    from safeward.fhir.cursor import cursor_issue, cursor_open
    from safeward.log_privacy import StripQueryStrings

    user, _ = make_user("bench.cursor", "physician")
    request = SimpleNamespace(user=user, auth=None)
    params = {"name": "quist ada", "birthdate": "1980-02-03", "_count": "20"}
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    redact = StripQueryStrings()
    line = '"GET /fhir/Patient?name=quist%20ada&birthdate=1980-02-03&_count=20 HTTP/1.1" 200 1234 12ms'

    def cursors() -> float:
        start = time.perf_counter()
        for page in range(args.operations):
            token = cursor_issue(request=request, resource_type="Patient", params=params, page=page + 1)
            cursor_open(request=request, resource_type="Patient", value=token)
        return (time.perf_counter() - start) / args.operations

    def records(filtered: bool) -> float:
        start = time.perf_counter()
        for _ in range(args.operations):
            record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%s", (line,), None)
            if filtered:
                redact.filter(record)
            formatter.format(record)
        return (time.perf_counter() - start) / args.operations

    cursor_times, plain_times, filtered_times = [], [], []
    for _ in range(args.rounds):
        cursor_times.append(cursors())
        plain_times.append(records(False))
        filtered_times.append(records(True))
    token = cursor_issue(request=request, resource_type="Patient", params=params, page=2)
    print(machine())
    per_link = statistics.median(cursor_times) * 1e6
    print(f"cursor issue+open: {per_link:.1f} µs per link ({len(token)} characters)")
    plain, filtered = statistics.median(plain_times), statistics.median(filtered_times)
    print(
        f"log record: {plain * 1e6:.2f} µs formatted, {filtered * 1e6:.2f} µs filtered+formatted "
        f"(+{(filtered - plain) * 1e6:.2f} µs, ratio {filtered / plain:.2f})"
    )


if __name__ == "__main__":
    main()

"""gunicorn's logger without query strings: `--logger-class
safeward.gunicorn_logging.QuerylessLogger` (the demo server passes it;
docs/operations.md asks production to). gunicorn's own warnings ("Invalid
request from ...", "Error handling request <uri>") would otherwise carry the
raw request line; the access log format logs `%(U)s`, the path alone."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from safeward.log_privacy import StripQueryStrings

_INVALID = "Invalid request from ip="


class WithholdBadRequestLines(logging.Filter):
    """gunicorn's "Invalid request from ip=...: <error>" quotes pieces of the
    malformed request line (a query with a space in it splits into "invalid
    version" fragments no URL pattern recognises): keep the address, drop the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_INVALID):
            address = message[len(_INVALID) :].split(": ", 1)[0]
            record.msg = f"{_INVALID}{address}: malformed request (the request line is not logged)"
            record.args = None
        return True


class QuerylessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(WithholdBadRequestLines())
        for log in (self.error_log, self.access_log):
            log.addFilter(StripQueryStrings())

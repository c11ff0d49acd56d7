"""Query strings never reach a log line.

Search criteria (a name, a date of birth, an MRN) can arrive in a URL's query
string, whatever the API documentation asks of clients. SafeWard's audit trail
records accesses; logs record paths only. `StripQueryStrings` is a logging
filter that removes the query string of every URL or path in a record's
message and traceback. It is installed on Django's console handler
(settings.LOGGING, also for `django.server`) and on gunicorn's error and
access logs (`safeward.gunicorn_logging.QuerylessLogger`, used by the demo
server and in docs/operations.md); gunicorn's access log format logs
`%(U)s`, the path alone, on top of it.
"""

from __future__ import annotations

import logging
import re

# A path or an absolute URL followed by "?query". The query is dropped up to
# " HTTP/" (a request line), a quote, a bracket, the end of the line or the
# end: a malformed request line may hold spaces inside its query, so this
# errs on dropping too much rather than too little.
_URL_WITH_QUERY = re.compile(
    r"""((?:[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#"'<>]*)?/[^\s?#"'<>]*)\?[^"'<>\r\n]*?(?=\sHTTP/|["'<>\r\n]|$)""",
    re.MULTILINE,
)


def strip_query_strings(text: str) -> str:
    """`text` with the query string of every path or URL in it removed."""
    if "?" not in text:
        return text
    return _URL_WITH_QUERY.sub(r"\1", text)


class StripQueryStrings(logging.Filter):
    """Rewrites each record's message (and formatted traceback) without query strings."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed %-format: keep the template only
            message = str(record.msg)
        record.msg = strip_query_strings(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = strip_query_strings(record.exc_text)
        return True

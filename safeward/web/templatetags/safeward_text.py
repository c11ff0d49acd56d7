"""`{{ hint|code_spans }}`: an operator hint's `command` spans as <code>,
everything escaped (a plain-text hint, never trusted HTML)."""

from __future__ import annotations

import re

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

_SPAN = re.compile(r"`([^`]+)`")


@register.filter
def code_spans(text: object) -> SafeString:
    # re.split with one group alternates text (even indexes) and code spans (odd).
    pieces = _SPAN.split(str(text))
    return format_html_join(
        "",
        "{}",
        ((format_html("<code>{}</code>", piece) if i % 2 else piece,) for i, piece in enumerate(pieces)),
    )

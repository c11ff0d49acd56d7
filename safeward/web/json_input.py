"""JSON from outside SafeWard, bounded in depth: one parser for every JSON
request body (DRF's default and the FHIR views) and the JSON fields of forms.

Python's decoder recurses once per nesting level, so `[[[[...]]]]` 10,000 deep
raised RecursionError (a 500) wherever a body was parsed — in OAuth2
authentication too, before the caller was known. Nothing SafeWard accepts
nests anywhere near `MAX_DEPTH` (a FHIR resource with extensions is about 8)."""

from __future__ import annotations

import json
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64
TOO_DEEP = f"The JSON is nested more than {MAX_DEPTH} levels deep."


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether containers nest deeper than `limit` (iterative: no recursion of its own)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing (TooDeep) what nests deeper than MAX_DEPTH;
    malformed JSON raises json.JSONDecodeError as before."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(TOO_DEEP) from None
    if depth_exceeds(value):
        raise TooDeep(TOO_DEEP)
    return value


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the depth bound: a 400 (ParseError), never a 500."""

    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if depth_exceeds(value):
            raise ParseError(TOO_DEEP)
        return value

"""Duplicate keys in a request's JSON: refused, since the parser would keep only the last.

`{"leads": [...], "leads": [...]}` parses as the second array alone: the first leads would be
dropped without a word. pydantic's parser cannot report duplicates, and parsing the body a
second time with the standard library's hook costs more than validating it, so the check is
in two steps. First the keys written in the body are counted (each `":` once blanks are
removed, two passes over the bytes in C) and compared with the keys the parsed request holds:
a duplicate makes them differ. Only when that cannot rule duplicates out (more keys written
than held, say activity fields the schema ignores, or a backslash escape) is the body parsed
again to find it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

_BLANKS = b" \t\r\n"


class DuplicateKey(ValueError):
    """A JSON object holds the same key twice."""


def _refuse_duplicates(pairs: Sequence[tuple[str, Any]]) -> None:
    if len(pairs) > 1:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)


def find_duplicate_key(body: bytes) -> str | None:
    """A key that some object of `body` (valid JSON) holds twice, or None."""
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except DuplicateKey as exc:
        return str(exc)
    return None


def _may_repeat(body: bytes, request: BaseModel) -> bool:
    """False when no key of `body` can occur twice in one object (see the module docstring)."""
    if b"\\" in body:
        return True
    # Without a backslash no string holds a quote, so once blanks are gone each `":` ends a
    # key (blanks may stand between a key and its colon).
    written = body.translate(None, _BLANKS).count(b'":')
    held = len(request.model_fields_set)
    for lead in getattr(request, "leads", ()):
        # A lead's fields set include its custom fields.
        # (a single-table model's leads have no activities)
        held += len(lead.model_fields_set) + sum(map(len, getattr(lead, "activities", ())))
    return written > held


def duplicate_key(body: bytes, request: BaseModel) -> str | None:
    """A key held twice by one object of the parsed `request`'s `body`, or None."""
    if not _may_repeat(body, request):
        return None
    return find_duplicate_key(body)

"""Request problems as JSON errors that name the lead index and the field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "a boolean",
    "float_type": "a number",
    "finite_number": "a finite number",
    "datetime_type": "a date-time string",
}
# The schema's text patterns only refuse control characters and blank ids.
PATTERN_MESSAGE = "must be printable text: no NUL or other control characters, not blank"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request, and where."""

    location: str
    lead_index: int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "lead_index": self.lead_index,
            "field": self.field,
            "message": self.message,
        }


class RequestError(Exception):
    """A request the service will not score: HTTP status, error kind and problems."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        problems: Sequence[Problem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.problems = list(problems)
        self.headers = headers

    def body(self) -> bytes:
        return json.dumps(
            {
                "error": self.error,
                "message": self.message,
                "problems": [p.to_dict() for p in self.problems],
            }
        ).encode()


def lead_problem(index: int, field: str, message: str) -> Problem:
    return Problem(f"leads[{index}].{field}", index, field, message)


def _locate(loc: Sequence[str | int]) -> tuple[str, int | None, str | None]:
    """Location text, lead index and field of a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "leads" and isinstance(loc[1], int):
        index = loc[1]
        rest = list(loc[2:])
        if not rest:
            return f"leads[{index}]", index, None
        field = str(rest[0])
        if field == "activities" and len(rest) >= 2 and isinstance(rest[1], int):
            field = f"activities[{rest[1]}]"
            if len(rest) >= 3:
                field += f".{rest[2]}"
        # Further parts name union members ('str', 'int'...), not places in the request.
        return f"leads[{index}].{field}", index, field
    if not loc:
        return "body", None, None
    field = str(loc[0])
    return field, None, field


def _message(errors: list[dict[str, Any]]) -> str:
    """One message for all errors at one place (a union gives one error per member)."""
    if any(e["type"] == "string_pattern_mismatch" for e in errors):
        # A string that is not printable: what the other union members say does not matter.
        return PATTERN_MESSAGE
    if len(errors) == 1:
        return str(errors[0]["msg"])
    wanted = [_TYPE_WORDS[e["type"]] for e in errors if e["type"] in _TYPE_WORDS]
    if len(wanted) == len(errors):
        return "wrong type: should be " + " or ".join(dict.fromkeys(wanted))
    return "; ".join(dict.fromkeys(str(e["msg"]) for e in errors))


def problems_from_validation(exc: ValidationError) -> list[Problem]:
    grouped: dict[str, tuple[int | None, str | None, list[dict[str, Any]]]] = {}
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        location, index, field = _locate(error["loc"])
        grouped.setdefault(location, (index, field, []))[2].append(dict(error))
    return [
        Problem(location, index, field, _message(errors))
        for location, (index, field, errors) in grouped.items()
    ]


def invalid_request(problems: Iterable[Problem], status: int = 422) -> RequestError:
    problems = list(problems)
    if len(problems) == 1:
        p = problems[0]
        message = f"{p.location}: {p.message}"
    else:
        message = f"{len(problems)} problems in the request"
    return RequestError(status, "invalid_request", message, problems)

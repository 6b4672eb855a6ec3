"""The `POST /score` body as BentoML hands it to the endpoint: parsed, or refused with the reason.

BentoML reads the body and validates it with the endpoint's input type (`model_validate_json`)
before the endpoint runs. A `ValidationError` raised there would become BentoML's own answer
(400 `{"error", "detail"}`) and a log line with a traceback whose pydantic message quotes the
offending value (a CRM that sends an e-mail address in the wrong field would write it to the
log). So the input type `score_input` makes keeps the refusal instead of raising, and the
endpoint answers the documented error: 422 `invalid_request` with problems naming the lead
index and field, 400 `invalid_json` for a body that is not JSON or repeats a key. Nothing
about the request is logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, PrivateAttr, ValidationError, create_model

from serving.errors import Problem, RequestError, invalid_request, problems_from_validation
from serving.json_keys import duplicate_key


class ParsedBody(BaseModel):
    """A request body as parsed for the endpoint; `refusal` says why it cannot be scored."""

    if TYPE_CHECKING:  # the envelope's fields, declared by the request models it is mixed into
        leads: list[Any]
        as_of: datetime | None
        explain: bool

    _refusal: RequestError | None = PrivateAttr(default=None)

    @property
    def refusal(self) -> RequestError | None:
        return self._refusal

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            parsed = super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            return cls._refused(refusal_of(exc))
        body = json_data.encode() if isinstance(json_data, str) else bytes(json_data)
        twice = duplicate_key(body, parsed)
        if twice is not None:
            # The parser keeps the last value of a repeated key: the first would be dropped.
            return cls._refused(
                RequestError(
                    400,
                    "invalid_json",
                    f"key {twice[:60]!r} appears twice in one JSON object; send each key once",
                    [Problem("body", None, twice[:60], "duplicate key")],
                )
            )
        return parsed

    @classmethod
    def _refused(cls, refusal: RequestError) -> Self:
        refused = cls.model_construct()
        refused._refusal = refusal
        return refused


def refusal_of(exc: ValidationError) -> RequestError:
    """The documented error for a body that failed validation (never quoting its values)."""
    problems = problems_from_validation(exc)
    kinds = {e["type"] for e in exc.errors(include_input=False, include_url=False)}
    if "json_invalid" in kinds:
        return RequestError(400, "invalid_json", "body is not valid JSON", problems)
    return invalid_request(problems)


def score_input(request_model: type[BaseModel]) -> type[ParsedBody]:
    """The endpoint's input type: `request_model` (the export model's `ScoreRequest`, or a
    single-table model's) that keeps a refusal instead of raising."""
    model: type[ParsedBody] = create_model(
        request_model.__name__,
        __base__=(request_model, ParsedBody),  # type: ignore[arg-type]
        __doc__=request_model.__doc__,
        __module__=request_model.__module__,
    )
    return model

"""Lead values never reach the service log, even from requests BentoML parses (issue 10,
item 6: /score is a typed `@bentoml.api` endpoint, and BentoML logs a failing input's
traceback, whose pydantic message quotes the value)."""

from __future__ import annotations

import logging
import sys

from pydantic import BaseModel, ValidationError

from serving.redaction import QuietValidation
from tests.serving.conftest import Server
from tests.serving.test_bad_requests import (
    body,
    good_lead,
    log_after_next_summary,
    post,
    summaries,
)

PRIVATE = "jane.private.person@example.org"


def test_refused_values_are_not_logged(server: Server) -> None:
    seen = summaries(server)
    wrong_type = good_lead("privacy-1")
    wrong_type["company_size"] = PRIVATE  # a CRM mapping an e-mail into the wrong field
    wrong_date = good_lead("privacy-2")
    wrong_date["created_at"] = PRIVATE
    response = post(server, body(wrong_type, wrong_date))
    assert response.status_code == 422
    assert {(p["lead_index"], p["field"]) for p in response.json()["problems"]} == {
        (0, "company_size"),
        (1, "created_at"),
    }
    assert PRIVATE not in response.text
    assert post(server, b'{"leads": [' + PRIVATE.encode()).status_code == 400
    log = log_after_next_summary(server, seen)
    assert summaries(server) > seen
    assert PRIVATE not in log
    assert "Exception on /score" not in log  # BentoML's own line for a failing input


def test_a_validation_traceback_is_logged_without_values() -> None:
    class Lead(BaseModel):
        company_size: int

    record = logging.LogRecord(
        "bentoml.serve", logging.ERROR, __file__, 1, "Exception on %s", ("/score",), None
    )
    try:
        Lead.model_validate({"company_size": PRIVATE})
    except ValidationError:
        record.exc_info = sys.exc_info()
    assert record.exc_info is not None
    assert QuietValidation().filter(record)
    text = logging.Formatter().format(record)
    assert "Exception on /score: 1 validation errors" in text
    assert PRIVATE not in text and "Traceback" not in text


def test_the_docs_page_reads_the_same_openapi(server: Server) -> None:
    assert server.client.get("/docs.json").json() == server.client.get("/openapi.json").json()

"""Property-based tests of the served OpenAPI: valid and invalid requests generated from it.

Every response must be documented (status, content type, schema) and no request, however
odd, may get a 5xx. (Schemathesis' pytest plugin does not run on this pytest, so the
operations' Hypothesis strategies are driven directly.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.serving.conftest import Server

EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 60}
EARLY = "2000-01-01T00:00:00Z"


def within_the_rules(case: schemathesis.Case) -> schemathesis.Case:
    """Rules the JSON schema cannot state: a lead is created by its as_of; ids are distinct."""
    body: Any = case.body
    if isinstance(body, dict) and isinstance(body.get("leads"), list):
        seen: set[str] = set()
        for i, lead in enumerate(body["leads"]):
            if not isinstance(lead, dict):
                continue
            if "created_at" in lead:
                lead["created_at"] = lead.get("as_of") or body.get("as_of") or EARLY
            if "lead_id" in lead and str(lead["lead_id"]) in seen:
                lead["lead_id"] = f"renamed-{i}"
            seen.add(str(lead.get("lead_id")))
    return case


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_api_conforms_to_its_openapi(server: Server, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {f"{o.method.upper()} {o.path}" for o in operations} >= {"POST /score", "GET /model"}
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # nothing to make invalid in a GET without parameters
        strategy = operation.as_strategy(generation_mode=mode)
        if mode == GenerationMode.POSITIVE:
            strategy = strategy.map(within_the_rules)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server.url, timeout=30)

        check()

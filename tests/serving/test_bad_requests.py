"""Malformed requests get a 4xx JSON error naming the lead index and field; odd but valid ones
score normally, and nothing is dropped."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import Server, TrainedModel, start_server, stop_server

AS_OF = "2026-06-30T00:00:00Z"
SIZE = 7_654_321  # a number that appears nowhere else in a request, to replace in raw JSON
BODY_LIMIT = 1 << 20


def good_lead(lead_id: str = "A-1") -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "created_at": "2026-03-01T10:00:00Z",
        "source": "webinar",
        "country": "US",
        "company_size": 250,
        "job_title": "Head of Marketing",
        "email_domain": "acme.io",
        "activities": [
            {"activity_type": "page_view", "occurred_at": "2026-05-01T10:00:00Z"},
            {"activity_type": "demo_request", "occurred_at": "2026-06-20T10:00:00+02:00"},
        ],
    }


def body(*leads: Any, **top: Any) -> dict[str, Any]:
    return {"leads": list(leads), "as_of": AS_OF, **top}


def with_field(field: str, value: Any, index: int = 0, n: int = 2) -> dict[str, Any]:
    leads = [good_lead(f"L{i}") for i in range(n)]
    leads[index][field] = value
    return body(*leads)


def without_field(field: str, index: int = 0) -> dict[str, Any]:
    leads = [good_lead(f"L{i}") for i in range(2)]
    del leads[index][field]
    return body(*leads)


def with_activity(field: str, value: Any, lead: int = 1, activity: int = 1) -> dict[str, Any]:
    payload = with_field("source", "webinar")
    payload["leads"][lead]["activities"][activity][field] = value
    return payload


def raw(payload: dict[str, Any], old: str, new: str) -> bytes:
    """JSON that json.dumps would never write (NaN, Infinity...)."""
    text = json.dumps(payload)
    assert old in text
    return text.replace(old, new, 1).encode()


many_activities = body(good_lead())
many_activities["leads"][0]["activities"] = [
    {"activity_type": "page_view", "occurred_at": "2026-05-01T10:00:00Z"}
] * 5_001

# (case id, body: dict or raw bytes, expected status, lead index, field)
BAD_REQUESTS: list[tuple[str, Any, int, int | None, str | None]] = [
    ("missing lead_id", without_field("lead_id", 1), 422, 1, "lead_id"),
    ("empty lead_id", with_field("lead_id", "", 1), 422, 1, "lead_id"),
    ("blank lead_id", with_field("lead_id", "   ", 0), 422, 0, "lead_id"),
    ("float lead_id", with_field("lead_id", 1.5, 1), 422, 1, "lead_id"),
    ("missing created_at", without_field("created_at", 0), 422, 0, "created_at"),
    ("unparsable created_at", with_field("created_at", "yesterday", 1), 422, 1, "created_at"),
    ("impossible date", with_field("created_at", "2026-02-30T10:00:00Z"), 422, 0, "created_at"),
    ("impossible hour", with_field("created_at", "2026-02-03T25:00:00Z"), 422, 0, "created_at"),
    ("year 1", with_field("created_at", "0001-01-01T00:00:00Z", 1), 422, 1, "created_at"),
    ("year 2200", with_field("created_at", "2200-01-01T00:00:00+05:00"), 422, 0, "created_at"),
    ("epoch number", with_field("created_at", 1767225600), 422, 0, "created_at"),
    ("created after as_of", with_field("created_at", "2026-07-01T00:00:00Z"), 422, 0, "created_at"),
    ("bad lead as_of", with_field("as_of", "soon", 1), 422, 1, "as_of"),
    (
        "unparsable occurred_at",
        with_activity("occurred_at", "2026-13-01T00:00:00Z"),
        422,
        1,
        "activities[1].occurred_at",
    ),
    (
        "activity in 1899",
        with_activity("occurred_at", "1899-12-31T23:59:59-05:00", lead=0),
        422,
        0,
        "activities[1].occurred_at",
    ),
    (
        "missing activity_type",
        with_activity("activity_type", None, lead=0, activity=0),
        422,
        0,
        "activities[0].activity_type",
    ),
    (
        "blank activity_type",
        with_activity("activity_type", " "),
        422,
        1,
        "activities[1].activity_type",
    ),
    (
        "activity_type over 200 characters with padding",
        with_activity("activity_type", " " * 5 + "x" * 198),
        422,
        1,
        "activities[1].activity_type",
    ),
    ("activity not an object", with_field("activities", ["page_view"], 1), 422, 1, "activities[0]"),
    ("activities not a list", with_field("activities", "many"), 422, 0, "activities"),
    ("negative company_size", with_field("company_size", -1, 1), 422, 1, "company_size"),
    ("company_size as text", with_field("company_size", "500"), 422, 0, "company_size"),
    (
        "company_size NaN",
        raw(with_field("company_size", SIZE), str(SIZE), "NaN"),
        422,
        0,
        "company_size",
    ),
    (
        "company_size Infinity",
        raw(with_field("company_size", SIZE, 1), str(SIZE), "Infinity"),
        422,
        1,
        "company_size",
    ),
    (
        "company_size 1e400",
        raw(with_field("company_size", SIZE), str(SIZE), "1e400"),
        422,
        0,
        "company_size",
    ),
    ("extra NaN", raw(with_field("score_x", SIZE, 1), str(SIZE), "NaN"), 422, 1, "score_x"),
    (
        "extra -Infinity",
        raw(with_field("score_x", SIZE), str(SIZE), "-Infinity"),
        422,
        0,
        "score_x",
    ),
    ("extra object", with_field("custom", {"a": 1}), 422, 0, "custom"),
    ("extra list", with_field("custom", [1, 2], 1), 422, 1, "custom"),
    ("source as number", with_field("source", 12), 422, 0, "source"),
    ("country as bool", with_field("country", True, 1), 422, 1, "country"),
    ("lead not an object", body("L1", good_lead()), 422, 0, None),
    ("duplicate lead_id", body(good_lead("X"), good_lead("Y"), good_lead("X")), 422, 2, "lead_id"),
    (
        "duplicate id as number",
        body(good_lead("17"), {**good_lead(), "lead_id": 17}),
        422,
        1,
        "lead_id",
    ),
    ("too many leads", body(*[good_lead(f"L{i}") for i in range(1_001)]), 422, None, "leads"),
    ("too many activities", many_activities, 422, 0, "activities"),
    ("no leads", body(), 422, None, "leads"),
    ("leads not a list", {"leads": {"lead_id": "x"}}, 422, None, "leads"),
    ("missing leads", {"as_of": AS_OF}, 422, None, "leads"),
    ("bad as_of", body(good_lead(), as_of="2026-06-31T00:00:00Z"), 422, None, "as_of"),
    ("explain as text", body(good_lead(), explain="no"), 422, None, "explain"),
    ("unknown top-level field", body(good_lead(), leeds=[]), 422, None, "leeds"),
    # Finding 11: control characters, duplicate keys; finding 2/3: plausible ranges and caps.
    ("NUL in lead_id", with_field("lead_id", "L\x00", 1), 422, 1, "lead_id"),
    ("control character in source", with_field("source", "web\x1binar"), 422, 0, "source"),
    (
        "NUL in activity_type",
        with_activity("activity_type", "page\x00view"),
        422,
        1,
        "activities[1].activity_type",
    ),
    ("company_size 1e12", with_field("company_size", 1e12), 422, 0, "company_size"),
    ("custom text over 1,000 characters", with_field("notes", "x" * 1_001), 422, 0, "notes"),
    ("NUL in custom text", with_field("notes", "a\x00b", 1), 422, 1, "notes"),
    (
        "101 custom fields",
        body({**good_lead(), **{f"custom_{i}": i for i in range(101)}}),
        422,
        0,
        None,
    ),
    (
        "created_at in 1905",
        with_field("created_at", "1905-06-01T00:00:00Z", 1),
        422,
        1,
        "created_at",
    ),
    (
        "duplicate leads key",
        b'{"leads": [], "as_of": "2026-06-30T00:00:00Z", "leads": '
        + json.dumps([good_lead()]).encode()
        + b"}",
        400,
        None,
        None,
    ),
    (
        "duplicate lead field",
        raw(with_field("source", "webinar"), '"source": "webinar"', '"source": "a", "source": "b"'),
        400,
        None,
        None,
    ),
    (
        "duplicate key spelled with an escape",
        raw(body(good_lead()), '"as_of"', '"as_of": "2026-06-01T00:00:00Z", "\\u0061s_of"'),
        400,
        None,
        None,
    ),
    ("not JSON", b'{"leads": [', 400, None, None),
    ("trailing comma", b'{"leads": [],}', 400, None, None),
    ("empty body", b"", 400, None, None),
    ("JSON array", b"[]", 422, None, None),
]


@pytest.fixture(scope="module")
def small_limit_server(
    trained_model: TrainedModel, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The service with a 1 MiB body limit, so oversized bodies stay cheap to send."""
    log_path = tmp_path_factory.mktemp("limit-server") / "server.log"
    running = start_server(
        trained_model, model_dir, log_path, {"LEADSCORE_MAX_BODY_BYTES": str(BODY_LIMIT)}
    )
    yield running
    stop_server(running)


def post(server: Server, payload: Any, **headers: str) -> Any:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return server.client.post(
        "/score", content=content, headers={"Content-Type": "application/json", **headers}
    )


@pytest.mark.parametrize(
    ("payload", "status", "index", "field"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_request_names_lead_and_field(
    small_limit_server: Server, payload: Any, status: int, index: int | None, field: str | None
) -> None:
    response = post(small_limit_server, payload)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] in ("invalid_request", "invalid_json")
    assert error["message"]
    if status == 422:
        problems = error["problems"]
        assert problems, error
        assert any(p["lead_index"] == index and p["field"] == field for p in problems), problems


def test_oversized_body_is_refused_before_parsing(small_limit_server: Server) -> None:
    big = body(good_lead(), padding="x" * (BODY_LIMIT + 10))
    response = post(small_limit_server, big)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_oversized_chunked_body_is_refused(small_limit_server: Server) -> None:
    """Without a Content-Length the service counts the bytes as they come."""

    def chunks() -> Iterator[bytes]:
        yield b'{"leads": [], "padding": "'
        for _ in range(BODY_LIMIT // 65_536 + 2):
            yield b"x" * 65_536
        yield b'"}'

    response = small_limit_server.client.post(
        "/score", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_wrong_content_type_is_415(small_limit_server: Server) -> None:
    response = post(small_limit_server, body(good_lead()), **{"Content-Type": "text/csv"})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_all_problems_are_reported_at_once(small_limit_server: Server) -> None:
    leads = [good_lead("A"), good_lead("B"), good_lead("C")]
    leads[0]["company_size"] = -5
    leads[2]["created_at"] = "not a date"
    response = post(small_limit_server, body(*leads))
    assert response.status_code == 422
    where = {(p["lead_index"], p["field"]) for p in response.json()["problems"]}
    assert where == {(0, "company_size"), (2, "created_at")}


def test_unknown_categories_and_activity_types_score_normally(server: Server) -> None:
    odd = good_lead("odd")
    odd.update(source="carrier pigeon", country="ZZ", industry="space mining", job_title="?")
    odd["activities"].append(
        {"activity_type": "hologram_call", "occurred_at": "2026-06-01T00:00:00"}
    )
    odd["favourite_colour"] = "teal"
    odd["nps"] = 9
    odd["is_partner"] = False
    bare = {"lead_id": 42, "created_at": "2026-06-29T23:00:00Z"}
    response = post(server, body(good_lead("plain"), odd, bare))
    assert response.status_code == 200, response.text
    scores = response.json()["scores"]
    assert [s["lead_id"] for s in scores] == ["plain", "odd", "42"]
    for score in scores:
        assert 0 < score["probability"] < 1
        assert score["tier"] in ("SQL", "MQL", "nurture")
        assert 0 <= score["fit_score"] <= 100


def test_activities_at_or_after_as_of_are_warned_and_not_used(server: Server) -> None:
    lead = good_lead("late")
    late = [
        {"activity_type": "demo_request", "occurred_at": AS_OF},
        {"activity_type": "contact_sales", "occurred_at": "2026-07-04T00:00:00Z"},
    ]
    with_late = copy.deepcopy(lead)
    with_late["activities"] += late
    response = post(server, body(with_late))
    reference = post(server, body(lead))
    assert response.status_code == reference.status_code == 200
    warnings = response.json()["warnings"]
    assert [(w["lead_index"], w["activity_index"]) for w in warnings] == [(0, 2), (0, 3)]
    assert all(w["lead_id"] == "late" for w in warnings)
    assert reference.json()["warnings"] == []
    assert response.json()["scores"] == reference.json()["scores"]


def test_lead_as_of_overrides_the_request_as_of(server: Server) -> None:
    early = good_lead("early")
    early["as_of"] = "2026-05-15T00:00:00Z"
    response = post(server, body(early, good_lead("late")))
    assert response.status_code == 200
    first, second = response.json()["scores"]
    assert first["as_of"] == "2026-05-15T00:00:00Z"
    assert second["as_of"] == AS_OF
    # The demo request of 2026-06-20 comes after the early lead's as_of.
    assert [w["lead_index"] for w in response.json()["warnings"]] == [0]


def summaries(server: Server) -> int:
    """How many request summaries the server has logged."""
    return server.log().count("client errors")


def log_after_next_summary(server: Server, seen: int) -> str:
    """The server's log once it holds a summary beyond the first `seen` (the test server logs
    one per second of traffic)."""
    time.sleep(1.2)
    assert post(server, body(good_lead("ok"))).status_code == 200
    deadline = time.monotonic() + 10
    while summaries(server) <= seen and time.monotonic() < deadline:
        time.sleep(0.1)
    return server.log()


def test_errors_and_counts_are_logged_without_bodies(server: Server) -> None:
    seen = summaries(server)
    secret = "very-private-person.example.com"
    lead = good_lead("log-check-lead")
    lead["email_domain"] = secret
    assert post(server, body(lead)).status_code == 200
    lead["company_size"] = -1
    assert post(server, body(lead)).status_code == 422
    log = log_after_next_summary(server, seen)
    assert "client errors" in log and "latency p50" in log
    assert secret not in log
    assert "log-check-lead" not in log

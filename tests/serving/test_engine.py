"""Reading a request column-wise: activity instants in UTC, warnings, batches of requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from serving.engine import ActivityColumns, EngineScores, utc_micros
from serving.errors import RequestError
from serving.lead_checks import check_leads, render_scores
from serving.schemas import ScoreRequest

AS_OF = datetime(2026, 6, 30)


def lead(lead_id: str, *stamps: str) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "created_at": "2026-01-01T00:00:00Z",
        "activities": [{"activity_type": " page_view ", "occurred_at": s} for s in stamps],
    }


def parsed(*leads: dict[str, Any]) -> ScoreRequest:
    """As the service parses bodies: JSON, timestamps as written, offsets and all."""
    return ScoreRequest.model_validate_json(json.dumps({"leads": list(leads)}))


def test_activity_instants_are_utc_whatever_the_written_offset() -> None:
    same_instant = ["2026-06-29T22:00:00Z", "2026-06-29T22:00:00", "2026-06-30T00:00:00+02:00"]
    req = parsed(lead("a", *same_instant), lead("b", "2026-06-29T20:30:00-01:30"))
    columns = ActivityColumns.of(req.leads)
    expected = utc_micros([datetime(2026, 6, 29, 22)])[0]
    assert columns.micros.tolist() == [expected] * 4
    assert columns.owner.tolist() == [0, 0, 0, 1]
    assert columns.activity_type == ["page_view"] * 4
    assert columns.index_in_lead().tolist() == [0, 1, 2, 0]


def test_warnings_compare_instants_not_written_clock_times() -> None:
    req = parsed(
        # 23:00 UTC the day before as_of: used, although the clock reads 01:00 on the day.
        lead("east", "2026-06-30T01:00:00+02:00"),
        # 00:30 UTC on the day: not used, although the clock reads 23:30 the day before.
        lead("west", "2026-06-29T23:30:00-01:00", "2026-06-29T23:59:59Z", "2026-06-30T00:00:00"),
    )
    as_of, warnings, columns = check_leads(req.leads, AS_OF)
    assert as_of == [AS_OF, AS_OF]
    assert [(w["lead_id"], w["activity_index"]) for w in warnings] == [("west", 0), ("west", 2)]
    assert columns.size == 4


def test_impossible_leads_are_refused_before_activities_are_read() -> None:
    req = parsed(lead("x"), lead("x"))
    with pytest.raises(RequestError) as raised:
        check_leads(req.leads, AS_OF)
    assert raised.value.status == 422


def test_batches_of_requests_number_their_leads_on() -> None:
    first = ActivityColumns.of(parsed(lead("a", "2026-06-01T00:00:00Z"), lead("b")).leads)
    second = ActivityColumns.of(
        parsed(lead("c", "2026-06-02T00:00:00Z", "2026-06-03T00:00:00Z")).leads
    )
    both = ActivityColumns.concat([(first, 2), (second, 1)])
    assert both.owner.tolist() == [0, 2, 2]
    assert both.index_in_lead().tolist() == [0, 0, 1]
    assert np.array_equal(both.micros, np.concatenate([first.micros, second.micros]))
    empty = ActivityColumns.of(parsed(lead("d")).leads)
    assert ActivityColumns.concat([(empty, 1), (first, 2)]).owner.tolist() == [1]


def test_utc_micros_asks_a_zone_with_daylight_saving_for_each_instant() -> None:
    paris = ZoneInfo("Europe/Paris")
    winter, summer = (
        datetime(2026, 1, 15, 12, tzinfo=paris),
        datetime(2026, 7, 15, 12, tzinfo=paris),
    )
    fixed = datetime(2026, 7, 15, 12, 0, 0, 250, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
    naive = datetime(2026, 7, 15, 12)
    values = [winter, summer, fixed, naive, summer]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    expected = [
        (v.replace(tzinfo=v.tzinfo or UTC) - epoch) // timedelta(microseconds=1) for v in values
    ]
    assert utc_micros(values).tolist() == expected
    assert (
        expected[1] - expected[3] == -2 * 3_600 * 1_000_000
    )  # 12:00 in Paris in July is 10:00 UTC


def engine_scores(probability: list[float], explain: bool) -> EngineScores:
    n = len(probability)
    reasons = [["Requested a demo yesterday", "Café owner, été"]] * n
    return EngineScores(
        probability=np.array(probability),
        percentile=np.full(n, 42.5),
        tier=np.array(["SQL"] * n, dtype=object),
        fit_score=np.full(n, 10.0 if explain else np.nan),
        engagement_score=np.full(n, 90.0 if explain else np.nan),
        reasons_positive=reasons,
        reasons_negative=[[] for _ in range(n)],
    )


@pytest.mark.parametrize("explain", [True, False])
def test_answers_are_the_json_the_scores_say(explain: bool) -> None:
    req = parsed(lead("a"), lead("b"))
    as_of = [AS_OF, AS_OF]
    scores = engine_scores([0.123456789012345678, 1e-7], explain)
    body = render_scores(req.leads, as_of, AS_OF, scores, explain, {"name": "m"}, [])
    answer = json.loads(body)
    assert [s["probability"] for s in answer["scores"]] == scores.probability.tolist()
    assert [s["lead_id"] for s in answer["scores"]] == ["a", "b"]
    assert answer["scores"][0]["as_of"] == "2026-06-30T00:00:00Z"
    if explain:
        assert answer["scores"][1]["reasons"]["positive"][1] == "Café owner, été"
        assert answer["scores"][0]["fit_score"] == 10.0
    else:
        assert answer["scores"][0]["reasons"] is None
        assert answer["scores"][0]["fit_score"] is None


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_score_that_is_not_a_number_is_a_fault_not_an_answer(bad: float) -> None:
    req = parsed(lead("a"))
    with pytest.raises(ValueError, match="not a finite number"):
        render_scores(req.leads, [AS_OF], AS_OF, engine_scores([bad], True), True, {}, [])


def test_sub_scores_a_model_does_not_have_are_null() -> None:
    # A single-table model has no fit or engagement score: its engine answers None for them.
    req = parsed(lead("a"))
    scores = engine_scores([0.25], True)
    absent = np.full(1, None, dtype=object)
    scores = EngineScores(**{**vars(scores), "fit_score": absent, "engagement_score": absent})
    answer = json.loads(render_scores(req.leads, [AS_OF], AS_OF, scores, True, {}, []))
    assert answer["scores"][0]["fit_score"] is None
    assert answer["scores"][0]["engagement_score"] is None
    assert answer["scores"][0]["probability"] == 0.25

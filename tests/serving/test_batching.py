"""Micro-batching keeps each request's leads its own, and one request's failure its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from serving.batching import MicroBatcher
from serving.engine import ActivityColumns, EngineScores
from serving.schemas import Lead

AS_OF = datetime(2026, 6, 30)


class FakeEngine:
    """Scores a lead by its numeric id; fails a batch that holds a lead called 'boom'."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.activities: list[ActivityColumns | None] = []

    def score(
        self, leads: Sequence[Lead], as_of: Sequence[datetime], explain: bool, activities: Any
    ) -> Any:
        ids = [str(lead.lead_id) for lead in leads]
        self.calls.append(ids)
        self.activities.append(activities)
        if "boom" in ids:
            raise ValueError("cannot score")
        values = np.array([float(len(i)) / 10 for i in ids])
        return EngineScores(
            probability=values,
            percentile=values * 100,
            tier=np.array(["nurture"] * len(ids), dtype=object),
            fit_score=values,
            engagement_score=values,
            reasons_positive=[[i] for i in ids],
            reasons_negative=[[] for _ in ids],
        )


def lead(lead_id: str) -> Lead:
    return Lead(lead_id=lead_id, created_at=datetime(2026, 1, 1))


async def score_all(batcher: MicroBatcher, requests: list[list[str]]) -> list[Any]:
    jobs = [
        batcher.score([lead(i) for i in ids], [AS_OF] * len(ids), explain=True) for ids in requests
    ]
    return await asyncio.gather(*jobs, return_exceptions=True)


def test_concurrent_requests_share_a_batch_and_get_their_own_scores() -> None:
    engine = FakeEngine()
    batcher = MicroBatcher(engine)  # type: ignore[arg-type]
    requests = [["a"], ["bb", "ccc"], ["dddd"]]
    results = asyncio.run(score_all(batcher, requests))
    assert engine.calls == [["a", "bb", "ccc", "dddd"]]
    assert [r.reasons_positive for r in results] == [[["a"]], [["bb"], ["ccc"]], [["dddd"]]]
    np.testing.assert_array_equal(results[1].probability, [0.2, 0.3])


def test_a_failing_request_does_not_fail_the_others() -> None:
    engine = FakeEngine()
    batcher = MicroBatcher(engine)  # type: ignore[arg-type]
    results = asyncio.run(score_all(batcher, [["a"], ["boom"], ["ccc"]]))
    assert isinstance(results[1], ValueError)
    assert results[0].reasons_positive == [["a"]]
    assert results[2].reasons_positive == [["ccc"]]
    assert engine.calls[0] == ["a", "boom", "ccc"]


def test_explain_and_routing_requests_are_not_mixed() -> None:
    engine = FakeEngine()
    batcher = MicroBatcher(engine)  # type: ignore[arg-type]

    async def run() -> None:
        await asyncio.gather(
            batcher.score([lead("a")], [AS_OF], explain=True),
            batcher.score([lead("b")], [AS_OF], explain=False),
            batcher.score([lead("c")], [AS_OF], explain=True),
        )

    asyncio.run(run())
    assert sorted(engine.calls) == [["a", "c"], ["b"]]


def test_a_batch_carries_each_requests_activities_with_its_leads() -> None:
    engine = FakeEngine()
    batcher = MicroBatcher(engine)  # type: ignore[arg-type]
    first = [lead("a"), lead("b")]
    first[1].activities.append({"activity_type": "demo_request", "occurred_at": AS_OF})
    second = [lead("c")]
    second[0].activities.append({"activity_type": "page_view", "occurred_at": AS_OF})

    async def run() -> None:
        await asyncio.gather(
            batcher.score(first, [AS_OF] * 2, True, ActivityColumns.of(first)),
            batcher.score(second, [AS_OF], True, ActivityColumns.of(second)),
        )

    asyncio.run(run())
    assert engine.calls == [["a", "b", "c"]]
    merged = engine.activities[0]
    assert merged is not None
    assert merged.owner.tolist() == [1, 2]
    assert merged.activity_type == ["demo_request", "page_view"]


def test_table_models_are_told_apart_by_the_artifacts_format_name() -> None:
    import models.artifacts
    from serving import model_source

    assert model_source.TABLE_FORMAT == models.artifacts.TABLE_FORMAT
    assert model_source.FEATURIZER_FILE == models.artifacts.FEATURIZER_FILE
    assert model_source.REFERENCE_FILE == models.artifacts.REFERENCE_FILE


def test_table_column_kinds_are_named_as_the_featurizer_names_them() -> None:
    import features.tabular
    from serving import table_schema

    assert table_schema.CATEGORY == features.tabular.CATEGORY

"""Batch scoring: partitioning never changes a score; an empty population still has every column."""

from __future__ import annotations

import pandas as pd

from demo.world import DemoWorld
from training.batch import score_export
from training.pipeline import TrainingResult


def test_partitions_score_exactly_like_one_batch(
    trained: TrainingResult, small_world: DemoWorld
) -> None:
    export = small_world.export
    whole = score_export(export, trained.scorer, export.cutoff, n_partitions=1)
    split = score_export(export, trained.scorer, export.cutoff, n_partitions=7)
    assert len(whole) > 7 * 3
    pd.testing.assert_frame_equal(whole, split)


def test_no_open_leads_gives_an_empty_table_with_every_column(
    trained: TrainingResult, small_world: DemoWorld
) -> None:
    export = small_world.export
    before_any_lead = export.leads["created_at"].min()
    scores = score_export(export, trained.scorer, before_any_lead, explain=False)
    assert scores.empty
    assert {"lead_id", "probability", "tier", "policy_version"} <= set(scores.columns)

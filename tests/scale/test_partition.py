"""Partitioned, float32 features equal the featurizer's own transform, row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo.world import DemoWorld
from features.build import LeadFeaturizer
from features.history import LeadHistory
from features.partition import (
    lead_partition,
    split_history,
    transform_partitioned,
)
from training.labels import build_snapshots


def _history(world: DemoWorld) -> LeadHistory:
    export = world.export
    snapshots = build_snapshots(export, export.cutoff)
    return LeadHistory(export.leads, export.activities, snapshots[["lead_id", "as_of"]])


def test_lead_partition_is_stable_and_by_string_form() -> None:
    ids = pd.Series(["17", "lead-a", None, "lead-b"], dtype=object)
    first = lead_partition(ids, 7)
    assert first[2] == -1
    assert (first[[0, 1, 3]] >= 0).all() and (first < 7).all()
    assert lead_partition(np.array([17], dtype=object), 7)[0] == first[0]
    assert (lead_partition(ids, 7) == first).all()


def test_every_lead_history_lands_in_one_partition(small_world: DemoWorld) -> None:
    history = _history(small_world)
    parts = list(split_history(history, 5))
    rows = np.concatenate([p.rows for p in parts])
    assert np.array_equal(np.sort(rows), np.arange(len(history.snapshots)))
    seen: set[str] = set()
    for part in parts:
        ids = set(part.history.leads["lead_id"])
        assert not ids & seen
        seen |= ids
        assert set(part.history.activities["lead_id"]) <= ids
        assert set(part.history.snapshots["lead_id"]) <= ids


@pytest.mark.parametrize("n_partitions", [1, 4])
def test_partitioned_features_equal_transform(small_world: DemoWorld, n_partitions: int) -> None:
    history = _history(small_world)
    featurizer = LeadFeaturizer().fit(history)
    expected = featurizer.transform(history)
    got = transform_partitioned(featurizer, history, n_partitions)
    assert list(got.columns) == list(expected.columns)
    for name in featurizer.categorical_features_:
        assert got[name].dtype == expected[name].dtype
        assert got[name].equals(expected[name])
    numeric = featurizer.numeric_features_
    assert (got[numeric].dtypes == np.float32).all()
    np.testing.assert_array_equal(
        got[numeric].to_numpy(), expected[numeric].to_numpy().astype(np.float32)
    )

"""The Dask path on a LocalCluster of 2 worker processes gives the single-process answers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from demo.world import DemoWorld
from features.build import LeadFeaturizer
from features.history import LeadHistory
from features.partition import HistoryPartition, partition_features, transform_partitioned
from training.batch import score_export, write_score_partitions
from training.cluster import cluster_client, cluster_map, parse_address
from training.labels import build_snapshots
from training.pipeline import TrainingResult

# Workers unpickle this module's helpers by value (the test folder is not on their path).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with cluster_client("local:2") as dask_client:
        yield dask_client


def _history(world: DemoWorld) -> LeadHistory:
    export = world.export
    snapshots = build_snapshots(export, export.cutoff)
    return LeadHistory(export.leads, export.activities, snapshots[["lead_id", "as_of"]])


def test_addresses_are_checked() -> None:
    assert parse_address("local:2") == ("local", 2)
    assert parse_address("tcp://127.0.0.1:8786") == ("remote", "tcp://127.0.0.1:8786")
    for bad in ("local:0", "local:x", "10.0.0.5:8786"):
        with pytest.raises(ValueError, match="--cluster"):
            parse_address(bad)


def test_cluster_features_equal_single_process(client: object, small_world: DemoWorld) -> None:
    history = _history(small_world)
    featurizer = LeadFeaturizer().fit(history)
    here = transform_partitioned(featurizer, history, n_partitions=6)
    there = transform_partitioned(
        featurizer, history, n_partitions=6, map_partitions=cluster_map(client)
    )
    pd.testing.assert_frame_equal(here, there, check_exact=True)


def _dies_once(marker: Path, featurizer: LeadFeaturizer, part: HistoryPartition) -> object:
    """partition_features, but the worker running partition 0 dies the first time."""
    if part.number == 0 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return partition_features(featurizer, part)


def test_a_killed_worker_changes_nothing(
    client: object, small_world: DemoWorld, tmp_path: Path
) -> None:
    history = _history(small_world)
    featurizer = LeadFeaturizer().fit(history)
    expected = transform_partitioned(featurizer, history, n_partitions=4)
    marker = tmp_path / "killed"
    mapped = cluster_map(client)
    blocks = mapped(partial(_dies_once, marker, featurizer), _parts(history, 4))
    from features.partition import assemble_features

    got = assemble_features(featurizer, blocks, len(history.snapshots))
    assert marker.exists()  # a worker really died mid-job
    pd.testing.assert_frame_equal(expected, got, check_exact=True)


def _parts(history: LeadHistory, n: int) -> Iterator[HistoryPartition]:
    from features.partition import split_history

    return split_history(history, n)


def test_cluster_scores_equal_single_process(
    client: object, trained: TrainingResult, small_world: DemoWorld, tmp_path: Path
) -> None:
    export = small_world.export
    here = score_export(export, trained.scorer, export.cutoff)
    there = score_export(export, trained.scorer, export.cutoff, map_partitions=cluster_map(client))
    pd.testing.assert_frame_equal(here, there, check_exact=False, rtol=0, atol=1e-9)
    files = write_score_partitions(
        export, trained.scorer, export.cutoff, tmp_path, map_partitions=cluster_map(client)
    )
    written = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    written = written.sort_values("lead_id", ignore_index=True)
    expected = here.sort_values("lead_id", ignore_index=True)
    assert len(written) == len(expected)
    np.testing.assert_allclose(written["probability"], expected["probability"], rtol=0, atol=1e-9)
    assert (written["tier"].to_numpy() == expected["tier"].to_numpy()).all()

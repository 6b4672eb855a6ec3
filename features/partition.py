"""Leads split into partitions by a hash of lead_id, each with its own activities and snapshots.

Every lead's whole history lands in one partition, and the featurizer treats leads
independently, so features built partition by partition equal features built at once (tested
bit for bit). One split serves every path: single-process training builds one partition's
temporary arrays at a time (memory bounded by the partition, not the export), batch scoring
scores partition by partition, and the Dask path runs one task per partition on the workers.

Feature blocks come back as float32: LightGBM bins them anyway, and float32 holds every count
and day value the featurizer makes to far better than the bins resolve (~7 significant digits).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from features.build import LeadFeaturizer
from features.history import LeadHistory

# pandas' hash_array takes a 16-byte key; fixed, so a lead's partition never changes between
# runs, machines or processes (Python's own hash() is salted per process).
PARTITION_HASH_KEY = "leadscore:lead-p"
# Sized so one partition's temporary arrays (float64 statistics, sort keys) stay near 100 MB.
ACTIVITIES_PER_PARTITION = 1_000_000
SNAPSHOTS_PER_PARTITION = 50_000
FEATURE_DTYPE = np.float32


def lead_partition(lead_ids: pd.Series | np.ndarray, n_partitions: int) -> np.ndarray:
    """Partition number (0..n-1) of each lead id; -1 where the id is missing.

    Ids hash by their string form, so 17 and "17" share a partition, as they share a lead.
    Only distinct ids are hashed (an activity table repeats each id dozens of times).
    """
    if n_partitions < 1:
        raise ValueError("n_partitions must be at least 1")
    codes, uniques = pd.factorize(pd.Series(lead_ids, copy=False), use_na_sentinel=True)
    text = np.asarray([str(u) for u in uniques], dtype=object)
    hashed = pd.util.hash_array(text, hash_key=PARTITION_HASH_KEY, categorize=False)
    per_unique = (hashed % np.uint64(n_partitions)).astype(np.int64)
    return np.where(codes >= 0, per_unique[np.maximum(codes, 0)], -1)


def partition_count(n_activities: int, n_snapshots: int, map_partitions: object = map) -> int:
    """Enough partitions that none holds more than the per-partition budgets, and (on a
    cluster: a map with a `parallelism`) at least two per worker to keep every worker busy."""
    return max(
        2 * int(getattr(map_partitions, "parallelism", 0)),
        1,
        math.ceil(n_activities / ACTIVITIES_PER_PARTITION),
        math.ceil(n_snapshots / SNAPSHOTS_PER_PARTITION),
    )


@dataclass(frozen=True)
class HistoryPartition:
    """The leads of one partition with their activities and snapshots.

    `rows` are the positions of `history.snapshots` in the snapshot table that was split, so
    results can be put back in the original order.
    """

    number: int
    history: LeadHistory
    rows: np.ndarray


def _groups(partition: np.ndarray, n_partitions: int) -> list[np.ndarray]:
    """Row positions per partition, each in ascending order."""
    order = np.argsort(partition, kind="stable")
    bounds = np.searchsorted(partition[order], np.arange(n_partitions + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(n_partitions)]


def split_history(history: LeadHistory, n_partitions: int) -> Iterator[HistoryPartition]:
    """The history as `n_partitions` partitions by lead, made one at a time (lazily).

    Only the activity columns the featurizer reads are carried; partitions without snapshots
    are skipped. Snapshot rows keep their order within a partition.
    """
    leads, activities, snapshots = history.leads, history.activities, history.snapshots
    columns = [c for c in ("lead_id", "occurred_at", "activity_type") if c in activities.columns]
    lead_groups = _groups(lead_partition(leads["lead_id"], n_partitions), n_partitions)
    activity_groups = _groups(lead_partition(activities["lead_id"], n_partitions), n_partitions)
    snapshot_groups = _groups(lead_partition(snapshots["lead_id"], n_partitions), n_partitions)
    for k in range(n_partitions):
        rows = snapshot_groups[k]
        if not len(rows):
            continue
        part = LeadHistory(
            leads=leads.iloc[lead_groups[k]].reset_index(drop=True),
            activities=activities[columns].iloc[activity_groups[k]].reset_index(drop=True),
            snapshots=snapshots.iloc[rows].reset_index(drop=True),
        )
        yield HistoryPartition(k, part, rows)


@dataclass(frozen=True)
class FeatureBlock:
    """Features of some snapshot rows: category codes per categorical, float32 numbers."""

    rows: np.ndarray
    codes: dict[str, np.ndarray]
    numbers: np.ndarray


def partition_features(featurizer: LeadFeaturizer, part: HistoryPartition) -> FeatureBlock:
    """The featurizer's own transform of one partition, numbers cast to float32.

    Runs wherever the partition is: in process, or as a task on a Dask worker.
    """
    codes, block = featurizer._transform_parts(part.history)
    return FeatureBlock(part.rows, codes, block.astype(FEATURE_DTYPE, order="C"))


# How a function runs over partitions: the built-in `map`, or a cluster's map that yields
# results as they finish (in any order: each result says which rows it is for).
PartitionMap = Callable[
    [Callable[[HistoryPartition], Any], Iterable[HistoryPartition]], Iterable[Any]
]


def assemble_features(
    featurizer: LeadFeaturizer, blocks: Iterable[FeatureBlock], n_rows: int
) -> pd.DataFrame:
    """One feature frame (float32 numbers) from blocks covering rows 0..n_rows-1 once each.

    Same columns, categories and order as `featurizer.transform`; only the numbers' dtype
    differs. Each block is written into place and dropped, so the peak is the frame plus one
    block.
    """
    numeric = featurizer.numeric_features_
    numbers = np.empty((n_rows, len(numeric)), dtype=FEATURE_DTYPE)
    codes = {name: np.full(n_rows, -1, dtype=np.int16) for name in featurizer.categorical_features_}
    filled = np.zeros(n_rows, dtype=bool)
    for block in blocks:
        numbers[block.rows] = block.numbers
        for name, values in block.codes.items():
            codes[name][block.rows] = values
        filled[block.rows] = True
    if not filled.all():
        raise ValueError(f"{int((~filled).sum())} snapshot rows got no features")
    index = pd.RangeIndex(n_rows)
    categorical = pd.DataFrame(
        {
            name: pd.Categorical.from_codes(codes[name], dtype=featurizer.category_dtypes_[name])
            for name in featurizer.categorical_features_
        },
        index=index,
    )
    block_frame = pd.DataFrame(numbers, columns=numeric, index=index, copy=False)
    return pd.concat([categorical, block_frame], axis=1)


def transform_partitioned(
    featurizer: LeadFeaturizer,
    history: LeadHistory,
    n_partitions: int | None = None,
    map_partitions: PartitionMap = map,
) -> pd.DataFrame:
    """`featurizer.transform(history)` built partition by partition, numbers as float32."""
    n_rows = len(history.snapshots)
    if n_partitions is None:
        n_partitions = partition_count(len(history.activities), n_rows, map_partitions)
    parts = split_history(history, n_partitions)
    blocks = map_partitions(partial(partition_features, featurizer), parts)
    return assemble_features(featurizer, blocks, n_rows)

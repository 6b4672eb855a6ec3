"""Batch scoring: every lead with no opportunity as of a date, partition by partition of leads
(in process, or as tasks on a Dask cluster), with progress."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import Export
from features.history import LeadHistory
from features.partition import HistoryPartition, PartitionMap, partition_count, split_history
from models.scorer import LeadScorer
from models.table_scorer import TableScorer

log = logging.getLogger(__name__)


def open_leads(export: Export, as_of: pd.Timestamp) -> pd.DataFrame:
    """Snapshots (lead_id, as_of) of leads created before `as_of` with no opportunity by then."""
    opps = export.opportunities
    with_opportunity = set(opps.loc[opps["created_at"] < as_of, "lead_id"])
    leads = export.leads
    mask = (leads["created_at"] < as_of) & ~leads["lead_id"].isin(with_opportunity)
    return pd.DataFrame({"lead_id": leads.loc[mask, "lead_id"].to_numpy(), "as_of": as_of})


def score_partition(scorer: LeadScorer, explain: bool, part: HistoryPartition) -> ScoredPartition:
    """Scores of one partition's snapshots: what a process or a cluster task runs."""
    return ScoredPartition(part.number, part.rows, scorer.score(part.history, explain))


@dataclass(frozen=True)
class ScoredPartition:
    number: int
    rows: np.ndarray  # positions in the open-lead snapshot table
    scores: pd.DataFrame


def scored_partitions(
    export: Export,
    scorer: LeadScorer,
    as_of: pd.Timestamp,
    explain: bool = True,
    map_partitions: PartitionMap = map,
    n_partitions: int | None = None,
) -> Iterator[ScoredPartition]:
    """Scores of every open lead at `as_of`, partition by partition (as they finish)."""
    snapshots = open_leads(export, as_of)
    history = LeadHistory(export.leads, export.activities, snapshots)
    if n_partitions is None:
        n_partitions = partition_count(len(export.activities), len(snapshots), map_partitions)
    parts = split_history(history, n_partitions)
    yield from map_partitions(partial(score_partition, scorer, explain), parts)


def score_export(
    export: Export,
    scorer: LeadScorer,
    as_of: pd.Timestamp,
    explain: bool = True,
    on_progress: Callable[[int], None] | None = None,
    map_partitions: PartitionMap = map,
    n_partitions: int | None = None,
) -> pd.DataFrame:
    """Scores for every open lead at `as_of`, in `open_leads` order, built per partition."""
    n_open = len(open_leads(export, as_of))
    parts = []
    for scored in scored_partitions(export, scorer, as_of, explain, map_partitions, n_partitions):
        parts.append(scored)
        if on_progress is not None:
            on_progress(len(scored.rows))
    if not parts:
        scores = scorer.score(
            LeadHistory(export.leads, export.activities, open_leads(export, as_of)[:0]), explain
        )
    else:
        scores = pd.concat([p.scores for p in parts], ignore_index=True)
        order = np.empty(n_open, dtype=np.int64)
        order[np.concatenate([p.rows for p in parts])] = np.arange(n_open)
        scores = scores.iloc[order].reset_index(drop=True)
    scores["policy_version"] = scorer.policy.version
    return scores


def write_score_partitions(
    export: Export,
    scorer: LeadScorer,
    as_of: pd.Timestamp,
    out: Path,
    explain: bool = True,
    on_progress: Callable[[int], None] | None = None,
    map_partitions: PartitionMap = map,
) -> list[Path]:
    """Scores as a folder of parquet files, one per lead partition (`part-NNNNN.parquet`)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for scored in scored_partitions(export, scorer, as_of, explain, map_partitions):
        path = out / f"part-{scored.number:05d}.parquet"
        frame = scored.scores.assign(policy_version=scorer.policy.version)
        frame.to_parquet(path, index=False)
        written.append(path)
        if on_progress is not None:
            on_progress(len(scored.rows))
    return sorted(written)


def score_table(
    rows: pd.DataFrame,
    scorer: TableScorer,
    explain: bool = True,
    chunk_size: int = 10_000,
    on_progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Scores for every row of a table (labelled or not), with its position in the table."""
    parts = []
    for start in range(0, max(len(rows), 1), chunk_size):
        chunk = rows.iloc[start : start + chunk_size]
        part = scorer.score(chunk, explain)
        part.insert(0, "row", range(start, start + len(chunk)))
        parts.append(part)
        if on_progress is not None:
            on_progress(len(chunk))
    scores = pd.concat(parts, ignore_index=True)
    scores["policy_version"] = scorer.policy.version
    return scores


def write_scores(scores: pd.DataFrame, out: Path) -> None:
    """csv (reasons joined with ' | ') or parquet (reasons as lists)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        scores.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        flat = scores.copy()
        for column in ("reasons_positive", "reasons_negative"):
            flat[column] = flat[column].map(" | ".join)
        flat.to_csv(out, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    else:
        raise ValueError(f"--out must end in .csv or .parquet, not {out.suffix or 'nothing'}")

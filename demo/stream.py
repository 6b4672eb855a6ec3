"""Big demo worlds in bounded memory: independent batches of leads, written as they are made.

A world of N leads is simulated as batches of at most `batch_leads` leads, each a demo world of
its own (same cut-off, horizon and parameters, seed derived from the batch number). Leads are
independent in the simulation, so the union is a world of N leads with the same distribution;
lead and opportunity ids get the batch number in front (``B0003-L000017``) so they stay
distinct. Each batch is written as parquet files partitioned by the hash of lead_id
(`training.export.write_partitioned`) and then dropped, so memory holds one batch at a time,
whatever N is. truth.csv is appended batch by batch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from demo.world import DemoConfig, DemoWorld, generate_demo_world
from features.contract import TABLES, Export
from training.export import write_partitioned

log = logging.getLogger(__name__)

BATCH_LEADS = 100_000
# Roughly a million activities per file at the demo's ~25 activities per lead.
LEADS_PER_PARTITION = 40_000


@dataclass(frozen=True)
class StreamedWorld:
    """What a streamed write produced (counts only: the tables are on disk)."""

    leads: int
    activities: int
    opportunities: int
    open_leads: int
    p_true_sum: float
    won: int
    paths: list[Path]


def _with_batch_ids(export: Export, batch: int) -> Export:
    prefix = f"B{batch:04d}-"

    def prefixed(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
        frame = frame.copy()
        for column in columns:
            frame[column] = prefix + frame[column].astype("str")
        return frame

    return Export(
        leads=prefixed(export.leads, ("lead_id",)),
        activities=prefixed(export.activities, ("lead_id",)),
        opportunities=prefixed(export.opportunities, ("opportunity_id", "lead_id")),
    )


def batch_world(config: DemoConfig, batch: int, n_leads: int) -> DemoWorld:
    """Batch `batch` of a streamed world: its own seed, ids prefixed with the batch."""
    world = generate_demo_world(
        replace(config, n_leads=n_leads, seed=config.seed * 100_003 + batch)
    )
    truth = world.truth.copy()
    truth["lead_id"] = f"B{batch:04d}-" + truth["lead_id"].astype("str")
    return DemoWorld(export=_with_batch_ids(world.export, batch), truth=truth)


def write_streamed_world(
    config: DemoConfig, out: Path, batch_leads: int = BATCH_LEADS, partitions: int | None = None
) -> StreamedWorld:
    """Write a world of `config.n_leads` leads into `out` batch by batch (see module doc)."""
    n_batches = math.ceil(config.n_leads / batch_leads)
    partitions = partitions or max(1, math.ceil(config.n_leads / LEADS_PER_PARTITION))
    out.mkdir(parents=True, exist_ok=True)
    truth_path = out / "truth.csv"
    counts = dict.fromkeys(TABLES, 0)
    paths: set[Path] = {truth_path}
    open_leads, p_true_sum, won = 0, 0.0, 0
    for batch in range(n_batches):
        size = min(batch_leads, config.n_leads - batch * batch_leads)
        world = batch_world(config, batch, size)
        for table in TABLES:
            frame = getattr(world.export, table)
            counts[table] += len(frame)
            paths.update(write_partitioned(frame, out / table, partitions, batch))
        world.truth.to_csv(
            truth_path, index=False, mode="w" if batch == 0 else "a", header=not batch
        )
        open_leads += len(world.truth)
        p_true_sum += float(world.truth["p_true"].sum())
        won += int(world.truth["won"].sum())
        log.info("demo batch %d/%d: %d leads written", batch + 1, n_batches, size)
    return StreamedWorld(
        leads=counts["leads"],
        activities=counts["activities"],
        opportunities=counts["opportunities"],
        open_leads=open_leads,
        p_true_sum=p_true_sum,
        won=won,
        paths=sorted(paths),
    )

"""How many leads enter the scored population per week: the inflow that capacity targets use."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from features.contract import Export
from training.labels import SnapshotScheme, build_snapshots

DAY = pd.Timedelta(days=1)
WEEK_DAYS = 7.0
RECENT_INFLOW_DAYS = 28


def lead_inflow(
    lead_id: pd.Series,
    created_at: pd.Series,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    every_days: float,
) -> float:
    """Distinct leads created per week in [start, end - one snapshot interval)."""
    complete_end = window_end - every_days * DAY
    if complete_end <= window_start:
        complete_end = window_end
    inside = (created_at >= window_start) & (created_at < complete_end)
    weeks = (complete_end - window_start) / DAY / WEEK_DAYS
    return float(lead_id[inside].nunique() / weeks)


def recent_inflow(
    export: Export,
    cutoff: pd.Timestamp,
    scheme: SnapshotScheme,
    days: int = RECENT_INFLOW_DAYS,
) -> float:
    """Leads entering the scored population per week in the `days` before the cut-off.

    Counted like `lead_inflow` (leads with a snapshot, created in a window that ends one
    snapshot interval before the cut-off), so it is comparable with a period's inflow.
    """
    start = cutoff - (days + scheme.every_days) * DAY
    recent = export.leads[export.leads["created_at"] >= start]
    snapshots = build_snapshots(
        replace(export, leads=recent.reset_index(drop=True)), cutoff, scheme
    )
    return lead_inflow(
        snapshots["lead_id"], snapshots["created_at"], start, cutoff, scheme.every_days
    )

"""Batch scoring: every lead with no opportunity as of a date, in chunks, with progress."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.build import LeadHistory
from features.contract import Export
from models.scorer import LeadScorer

log = logging.getLogger(__name__)


def open_leads(export: Export, as_of: pd.Timestamp) -> pd.DataFrame:
    """Snapshots (lead_id, as_of) of leads created before `as_of` with no opportunity by then."""
    opps = export.opportunities
    with_opportunity = set(opps.loc[opps["created_at"] < as_of, "lead_id"])
    leads = export.leads
    mask = (leads["created_at"] < as_of) & ~leads["lead_id"].isin(with_opportunity)
    return pd.DataFrame({"lead_id": leads.loc[mask, "lead_id"].to_numpy(), "as_of": as_of})


def score_export(
    export: Export,
    scorer: LeadScorer,
    as_of: pd.Timestamp,
    explain: bool = True,
    chunk_size: int = 10_000,
    on_progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Scores for every open lead at `as_of`, in chunks so memory stays flat."""
    snapshots = open_leads(export, as_of)
    n_chunks = max(-(-len(snapshots) // chunk_size), 1)
    parts = []
    for k in range(n_chunks):
        chunk = snapshots.iloc[k * chunk_size : (k + 1) * chunk_size]
        parts.append(scorer.score(LeadHistory(export.leads, export.activities, chunk), explain))
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

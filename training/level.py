"""The newest snapshots the served model's level is set on, with their partly observed outcomes.

Fully labelled snapshots end `horizon` before the cut-off, so a level set on them lags the
leads scored at the cut-off by at least that long; where the base rate moves (drift, season)
that lag is the error. The snapshots after the last labelled as_of are observed for less than
the horizon: counting their wins as if the horizon were complete would bias the level low
(right-censoring). Each such snapshot is weighed instead by its *exposure*: the share of wins
within the horizon that close within its observed window, read from the delays of the recent
fully labelled wins. Expected wins = sum(exposure x p) is then unbiased against observed wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import Export
from training.labels import DAY, SnapshotScheme, TrainingExamples, build_snapshots

log = logging.getLogger(__name__)

# The delays of wins (as_of to close) are read from fully labelled snapshots of this many days
# before the last labelled as_of: recent enough to follow the current sales cycle.
DELAY_DAYS = 180


@dataclass(frozen=True)
class LevelSnapshots:
    """Periodic snapshots in the level window: who, when, what was seen, and how much could be."""

    snapshots: pd.DataFrame  # lead_id, as_of
    observed: np.ndarray  # 1 when a win closed within the observed window
    exposure: np.ndarray  # share of the horizon's wins the observed window can show


def won_delay_days(snapshots: pd.DataFrame, export: Export) -> np.ndarray:
    """Days from each snapshot's as_of to the close of its lead's first won opportunity created
    at or after as_of (infinity when there is none)."""
    delay = np.full(len(snapshots), np.inf)
    won = export.opportunities.loc[
        export.opportunities["status"] == "won", ["lead_id", "created_at", "closed_at"]
    ]
    if won.empty or snapshots.empty:
        return delay
    pairs = snapshots[["lead_id", "as_of"]].reset_index(drop=True).reset_index(names="row")
    pairs = pairs.merge(won, on="lead_id")
    pairs = pairs[pairs["created_at"] >= pairs["as_of"]]
    days = (pairs["closed_at"] - pairs["as_of"]).dt.total_seconds() / DAY.total_seconds()
    first = days.groupby(pairs["row"]).min()
    delay[first.index.to_numpy()] = first.to_numpy()
    return delay


def exposure(observed_days: np.ndarray, win_delays: np.ndarray) -> np.ndarray:
    """Share of `win_delays` (wins within the horizon) at most each observed window long."""
    ordered = np.sort(win_delays)
    return np.searchsorted(ordered, observed_days, side="right") / max(ordered.size, 1)


def level_snapshots(
    export: Export,
    examples: TrainingExamples,
    scheme: SnapshotScheme,
    window_days: int,
    min_observed_days: int,
) -> LevelSnapshots:
    """Periodic snapshots with as_of in the `window_days` that end `min_observed_days` before
    the cut-off, each with its outcome as observed by the cut-off and its exposure."""
    cutoff = examples.cutoff
    horizon = examples.horizon_days
    last = cutoff - min_observed_days * DAY
    snapshots = build_snapshots(export, last, scheme)
    snapshots = snapshots[snapshots["as_of"] > last - window_days * DAY].reset_index(drop=True)
    until_cutoff = (cutoff - snapshots["as_of"]).dt.total_seconds().to_numpy() / DAY.total_seconds()
    observed_days = np.minimum(until_cutoff, horizon)
    observed = (won_delay_days(snapshots, export) <= observed_days).astype(np.int8)

    labelled = examples.snapshots
    recent = labelled[
        (labelled["label"] == 1)
        & (labelled["as_of"] > examples.boundaries["last_as_of"] - DELAY_DAYS * DAY)
    ]
    delays = won_delay_days(recent, export)
    log.info(
        "level window: %d snapshots, %d wins observed; win delays from %d recent wins",
        len(snapshots),
        int(observed.sum()),
        delays.size,
    )
    return LevelSnapshots(
        snapshots=snapshots[["lead_id", "as_of"]],
        observed=observed,
        exposure=exposure(observed_days, delays),
    )

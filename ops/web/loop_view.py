"""The Closed-loop page: `leadscore report`'s join of the prediction log and a later export.

The join, the tier entries, the funnel and drift are ops.closed_loop's and ops.drift's (the
same functions as the CLI report, without logging an MLflow run on every page view); this
module shapes them for the page and keeps the last result while the log and export are
unchanged, because drift rebuilds features of thousands of leads.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from features.contract import Export
from ops.closed_loop import realized_by_tier, wilson_interval
from ops.closed_loop_examples import TierSurprises, tier_surprises
from ops.closed_loop_run import JoinedLoop, join_closed_loop
from ops.prediction_log import read_predictions
from training.inflow import RECENT_INFLOW_DAYS
from training.metrics import calibration_curve

log = logging.getLogger(__name__)

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class LoopPage:
    joined: JoinedLoop
    surprises: TierSurprises | None
    charts: dict[str, Any]
    predictions: str
    export_path: Path


def _source_stamp(source: str) -> tuple[str, float, int]:
    """What changes when the log or dump changes: a file's mtime and size (URLs: nothing)."""
    path = Path(source.removeprefix("sqlite:///"))
    if path.exists():
        stat = path.stat()
        wal = Path(f"{path}-wal")
        extra = wal.stat().st_mtime if wal.exists() else 0.0
        return (str(path), max(stat.st_mtime, extra), stat.st_size)
    return (source, 0.0, 0)


def calibration_points(entries: pd.DataFrame) -> dict[str, list[float]]:
    """Mean served probability against realised conversion per quantile bin, with intervals."""
    observed = entries[~entries["censored"]]
    if len(observed) < CALIBRATION_BINS or observed["label"].nunique() < 2:
        return {"predicted": [], "realised": [], "low": [], "high": [], "leads": []}
    y = observed["label"].to_numpy(dtype=float)
    p = observed["probability"].to_numpy(dtype=float)
    mean_p, rate, counts = calibration_curve(y, p, CALIBRATION_BINS)
    low, high = wilson_interval(rate * counts, counts)
    return {
        "predicted": mean_p.round(5).tolist(),
        "realised": rate.round(5).tolist(),
        "low": low.round(5).tolist(),
        "high": high.round(5).tolist(),
        "leads": counts.tolist(),
    }


def realised_by_week(entries: pd.DataFrame, weeks: int = 12) -> pd.DataFrame:
    """`realized_by_tier` for the entries of each week of scoring (the last `weeks` weeks)."""
    week = entries["scored_at"].dt.to_period("W-SUN").dt.start_time
    parts = [
        realized_by_tier(group).assign(week_starting=start)
        for start, group in entries.groupby(week, sort=True)
    ]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts[-weeks:], ignore_index=True)
    return table[(table["leads"] > 0) | (table["censored"] > 0)].reset_index(drop=True)


def loop_charts(joined: JoinedLoop) -> dict[str, Any]:
    result = joined.result
    tiers = result.by_tier
    weekly = result.weekly
    return {
        "tiers": {
            "tier": tiers["tier"].tolist(),
            "realised": tiers["conversion_rate"].round(5).fillna(0).tolist(),
            "low": tiers["ci_low"].round(5).fillna(0).tolist(),
            "high": tiers["ci_high"].round(5).fillna(0).tolist(),
            "predicted": tiers["mean_probability"].round(5).fillna(0).tolist(),
        },
        "weekly": {
            "week": [f"{w:%d %b}" for w in pd.to_datetime(weekly["week_starting"])],
            "series": {str(c): weekly[c].astype(int).tolist() for c in weekly.columns[1:]},
        },
        "calibration": calibration_points(result.entries),
    }


class LoopCache:
    """The last closed loop per (log, export), recomputed when either file changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # One join at a time: a visitor who comes during the start-up warm-up waits for it
        # instead of starting a second one.
        self._joining = threading.Lock()
        self._exports: dict[tuple[str, float], Export] = {}
        self._joined: dict[tuple[Any, ...], JoinedLoop] = {}
        self._surprises: dict[tuple[Any, ...], TierSurprises | None] = {}
        self._recent: dict[tuple[Any, ...], np.ndarray | None] = {}

    def export(self, path: Path) -> Export:
        from training.export import ExportError, read_export

        stamp = max((p.stat().st_mtime for p in path.iterdir()), default=0.0)
        key = (str(path.resolve()), stamp)
        with self._lock:
            found = self._exports.get(key)
        if found is None:
            try:
                found = read_export(path).export
            except ExportError as exc:
                raise ValueError(f"the export {path} does not read: {exc}") from exc
            with self._lock:
                self._exports = {key: found}
        return found

    def recent_scores(self, source: str, model_name: str, version: str) -> np.ndarray | None:
        """The first logged score of each lead in the 4 weeks before the log's last score."""
        key = (_source_stamp(source), model_name, version)
        with self._lock:
            if key in self._recent:
                return self._recent[key]
        try:
            logged = read_predictions(source)
        except (OSError, ValueError, SQLAlchemyError) as exc:
            log.warning("cannot read the prediction log %s: %s", source, exc)
            return None
        mine = logged[(logged["model_name"] == model_name) & (logged["model_version"] == version)]
        scores = None
        if len(mine):
            since = mine["scored_at"].max() - pd.Timedelta(days=RECENT_INFLOW_DAYS)
            recent = mine[mine["scored_at"] >= since].drop_duplicates("lead_id", keep="first")
            scores = recent["probability"].to_numpy(dtype=float)
        with self._lock:
            self._recent = {key: scores}
        return scores

    def page(self, predictions: str, export_path: Path, with_contact: bool) -> LoopPage:
        """The joined loop (kept while the log and export are unchanged) and its examples."""
        if not export_path.is_dir():
            raise ValueError(f"{export_path} is not an export folder")
        key = (_source_stamp(predictions), str(export_path.resolve()))
        with self._joining:
            with self._lock:
                found = self._joined.get(key)
            export = self.export(export_path)
            if found is None:
                found = join_closed_loop(predictions, export)
                log.info("closed loop joined: %s scores", len(found.result.scored))
                with self._lock:
                    self._joined = {key: found}
                    self._surprises = {}
            with self._lock:
                surprises = self._surprises.get((key, with_contact))
            if surprises is None and found.scorer is not None:
                surprises = tier_surprises(
                    found.result, export, found.scorer, with_contact=with_contact
                )
                with self._lock:
                    self._surprises[(key, with_contact)] = surprises
        return LoopPage(found, surprises, loop_charts(found), predictions, export_path)


def drift_rows(joined: JoinedLoop, top: int = 20) -> list[dict[str, Any]]:
    """Score first, then the quantities with the largest PSI, with ops.drift's flag."""
    drift = joined.result.drift
    if drift is None:
        return []
    records = drift.table.head(top + 1).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in records]


def predictions_source_label(source: str) -> str:
    """A log's name for the page without credentials a database URL may carry."""
    if "://" in source and "@" in source:
        scheme, _, rest = source.partition("://")
        return f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
    return os.path.basename(source.removeprefix("sqlite:///")) or source

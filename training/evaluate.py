"""Holdout evaluation: point estimates with bootstrap intervals, segments, model tables.

The metrics come from `training/metrics.py` (one engine for every metric); a bootstrap resample
is the same computation with each row weighted by how often it was drawn, so 200 resamples of
20,000 rows run as a handful of array operations. Intervals are 95 % percentile bootstrap
intervals over resampled rows. ECE is biased upwards under resampling (sampling noise only ever
adds calibration error), so its interval is shifted down by the bootstrap's estimated bias (and
floored at 0); otherwise a well-calibrated model's interval would sit entirely above its own
point estimate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.metrics import (
    METRIC_NAMES,
    ArrayLike,
    FloatArray,
    decile_table,
    ece_bin_starts,
    group_scores,
    metrics_from_group_counts,
    validate_predictions,
    weighted_metrics,
)

logger = logging.getLogger(__name__)

_BIAS_CORRECTED = frozenset({"ece"})

SEGMENT_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")
OTHER_SEGMENT = "other"
MISSING_SEGMENT = "(missing)"

# Bootstrap work is done in chunks of resamples so memory stays near this many cells.
_BOOTSTRAP_CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True)
class MetricValue:
    """A metric's point estimate with its 95 % bootstrap interval (None when not computed)."""

    value: float
    low: float | None = None
    high: float | None = None

    def format(self, digits: int = 3) -> str:
        """Render as ``0.812 [0.801, 0.823]`` (or just the value without an interval)."""
        if np.isnan(self.value):
            return "n/a"
        text = f"{self.value:.{digits}f}"
        if self.low is not None and self.high is not None:
            text += f" [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        return text


@dataclass(frozen=True)
class ModelEvaluation:
    """Everything measured for one model on the holdout."""

    name: str
    metrics: dict[str, MetricValue]
    deciles: pd.DataFrame
    segments: dict[str, pd.DataFrame] = field(default_factory=dict)


# --------------------------------------------------------------------------- bootstrap


def _bootstrap_samples(
    y: FloatArray, prob: FloatArray, n_bootstrap: int, seed: int, n_bins: int
) -> dict[str, FloatArray]:
    n = y.size
    groups = group_scores(y, prob)
    ece_starts = ece_bin_starts(groups.score, n_bins, "quantile", prob)
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CELLS_PER_CHUNK // n)
    parts: list[dict[str, FloatArray]] = []
    for first in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - first)
        # Draw positions in the sorted order directly: counts per sorted row, no re-sorting.
        draws = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)
        w = np.add.reduceat(counts, groups.starts, axis=1).astype(np.float64)
        yw = np.add.reduceat(counts * groups.y_sorted, groups.starts, axis=1)
        parts.append(metrics_from_group_counts(w, yw, groups.score, ece_starts))
    return {name: np.concatenate([part[name] for part in parts]) for name in METRIC_NAMES}


def _interval(
    samples: FloatArray, point: float, bias_corrected: bool
) -> tuple[float | None, float | None]:
    finite = samples[np.isfinite(samples)]
    # Too few valid resamples (e.g. mostly single-class) give no meaningful interval.
    if finite.size < max(2, samples.size // 2):
        return None, None
    low, high = np.percentile(finite, [2.5, 97.5])
    if bias_corrected:
        bias = float(finite.mean()) - point
        low, high = max(0.0, low - bias), max(0.0, high - bias)
    return float(low), float(high)


def evaluate_predictions(
    y_true: ArrayLike,
    p: ArrayLike,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    n_bins: int = 10,
) -> dict[str, MetricValue]:
    """All holdout metrics (:data:`METRIC_NAMES`) with 95 % percentile bootstrap intervals.

    Undefined metrics (e.g. ROC AUC on a single-class sample) are NaN without an interval.
    """
    y, prob = validate_predictions(y_true, p)
    point = weighted_metrics(y, prob, np.ones(y.size), n_bins=n_bins)
    samples = _bootstrap_samples(y, prob, n_bootstrap, seed, n_bins) if n_bootstrap > 0 else {}
    result: dict[str, MetricValue] = {}
    for name in METRIC_NAMES:
        value = float(point[name][0])
        low, high = (None, None)
        if name in samples and np.isfinite(value):
            low, high = _interval(samples[name], value, name in _BIAS_CORRECTED)
        result[name] = MetricValue(value, low, high)
    return result


def paired_differences(
    y_true: ArrayLike,
    p_new: ArrayLike,
    p_old: ArrayLike,
    groups: ArrayLike,
    names: Iterable[str] = ("log_loss", "roc_auc"),
    *,
    n_bootstrap: int = 1_000,
    seed: int = 0,
) -> dict[str, MetricValue]:
    """`p_new`'s metrics minus `p_old`'s on the same rows, each with a 95 % percentile interval
    from a paired bootstrap that draws whole `groups` (a lead's snapshots are drawn together:
    they share one outcome, so drawing rows alone would understate the noise).

    Both models are measured on every resample's same rows, so what the two share (which leads
    happened to convert) cancels out of the difference.
    """
    names = tuple(names)
    y, new = validate_predictions(y_true, p_new)
    _, old = validate_predictions(y_true, p_old)
    _, group = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(group.max()) + 1 if group.size else 0
    ones = np.ones((1, y.size))
    point_new, point_old = weighted_metrics(y, new, ones), weighted_metrics(y, old, ones)
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CELLS_PER_CHUNK // max(y.size, n_groups, 1))
    parts: dict[str, list[FloatArray]] = {name: [] for name in names}
    for first in range(0, n_bootstrap if n_groups else 0, chunk):
        size = min(chunk, n_bootstrap - first)
        draws = (
            rng.integers(0, n_groups, size=(size, n_groups)) + (np.arange(size) * n_groups)[:, None]
        )
        drawn = np.bincount(draws.ravel(), minlength=size * n_groups).reshape(size, n_groups)
        weights = drawn[:, group].astype(np.float64)
        sample_new, sample_old = (
            weighted_metrics(y, new, weights),
            weighted_metrics(y, old, weights),
        )
        for name in names:
            parts[name].append(sample_new[name] - sample_old[name])
    result: dict[str, MetricValue] = {}
    for name in names:
        point = float(point_new[name][0] - point_old[name][0])
        low, high = (None, None)
        if parts[name] and np.isfinite(point):
            low, high = _interval(np.concatenate(parts[name]), point, bias_corrected=False)
        result[name] = MetricValue(point, low, high)
    return result


# --------------------------------------------------------------------------- segments


def _segment_labels(segments: pd.Series) -> npt.NDArray[np.str_]:
    values = segments.to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = MISSING_SEGMENT
    return values.astype(str)


def _describe_members(members: list[str], limit: int = 8) -> str:
    shown = ", ".join(members[:limit])
    return shown + (f" (+{len(members) - limit} more)" if len(members) > limit else "")


def evaluate_segments(
    y_true: ArrayLike,
    p: ArrayLike,
    segments: pd.Series,
    *,
    min_count: int = 200,
    min_positives: int = 10,
    n_bootstrap: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """Metrics per segment value where counts allow (largest first); rows align by position.

    A value is evaluated when it has at least ``min_count`` rows and at least ``min_positives``
    conversions and as many non-conversions. Smaller values are pooled into one ``other`` row
    whose ``includes`` column lists them; if the pool is itself too small its metrics are NaN
    (``evaluated`` is False), so every skipped value is accounted for.
    """
    y, prob = validate_predictions(y_true, p)
    if len(segments) != y.size:
        raise ValueError(f"segments has {len(segments)} rows but y_true has {y.size}")
    labels = _segment_labels(segments)

    def counts_allow(mask: npt.NDArray[np.bool_]) -> bool:
        n, positives = int(mask.sum()), float(y[mask].sum())
        return n >= min_count and min(positives, n - positives) >= min_positives

    values, sizes = np.unique(labels, return_counts=True)
    order = np.argsort(-sizes, kind="stable")
    kept: list[tuple[str, npt.NDArray[np.bool_], str]] = []
    small: list[str] = []
    for value in values[order]:
        mask = labels == value
        if counts_allow(mask):
            kept.append((str(value), mask, ""))
        else:
            small.append(str(value))
    if small:
        pooled = np.isin(labels, small)
        name = OTHER_SEGMENT if OTHER_SEGMENT not in {k[0] for k in kept} else "other (pooled)"
        kept.append((name, pooled, _describe_members(small)))
        logger.debug("segments pooled into %r: %s", name, small)

    rows = []
    for value, mask, includes in kept:
        n, positives = int(mask.sum()), float(y[mask].sum())
        row: dict[str, object] = {
            "segment": value,
            "n": n,
            "positives": int(positives),
            "rate": positives / n,
            "mean_p": float(prob[mask].mean()),
            "evaluated": counts_allow(mask),
            "includes": includes,
        }
        metrics = (
            evaluate_predictions(y[mask], prob[mask], n_bootstrap=n_bootstrap, seed=seed)
            if row["evaluated"]
            else {}
        )
        for metric in SEGMENT_METRICS:
            mv = metrics.get(metric, MetricValue(float("nan")))
            row[metric] = mv.value
            row[f"{metric}_low"] = np.nan if mv.low is None else mv.low
            row[f"{metric}_high"] = np.nan if mv.high is None else mv.high
        rows.append(row)
    columns = ["segment", "n", "positives", "rate", "mean_p"]
    columns += [f"{m}{s}" for m in SEGMENT_METRICS for s in ("", "_low", "_high")]
    columns += ["evaluated", "includes"]
    return pd.DataFrame(rows, columns=columns)


def format_segment_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Segment table for reading: one ``value [low, high]`` text column per metric."""
    out = table[["segment", "n", "positives", "rate", "mean_p"]].copy()
    for metric in SEGMENT_METRICS:
        out[metric] = [
            MetricValue(
                float(v),
                None if pd.isna(lo) else float(lo),
                None if pd.isna(hi) else float(hi),
            ).format(digits)
            for v, lo, hi in zip(
                table[metric], table[f"{metric}_low"], table[f"{metric}_high"], strict=True
            )
        ]
    out["includes"] = table["includes"]
    return out


# --------------------------------------------------------------------------- models


def evaluate_model(
    name: str,
    y_true: ArrayLike,
    p: ArrayLike,
    segments: pd.DataFrame | Mapping[str, pd.Series] | None = None,
    *,
    n_bootstrap: int = 200,
    segment_bootstrap: int = 100,
    min_count: int = 200,
    min_positives: int = 10,
    seed: int = 0,
) -> ModelEvaluation:
    """Metrics, deciles and per-column segment tables for one model's holdout predictions."""
    segment_columns: Mapping[str, pd.Series] = (
        {str(c): segments[c] for c in segments.columns}
        if isinstance(segments, pd.DataFrame)
        else (segments or {})
    )
    return ModelEvaluation(
        name=name,
        metrics=evaluate_predictions(y_true, p, n_bootstrap=n_bootstrap, seed=seed),
        deciles=decile_table(y_true, p),
        segments={
            column: evaluate_segments(
                y_true,
                p,
                values,
                min_count=min_count,
                min_positives=min_positives,
                n_bootstrap=segment_bootstrap,
                seed=seed,
            )
            for column, values in segment_columns.items()
        },
    )


def compare_table(
    evals: Iterable[ModelEvaluation],
    metrics: Iterable[str] = METRIC_NAMES,
    digits: int = 3,
) -> pd.DataFrame:
    """Models side by side: one row per model, each metric as ``0.812 [0.801, 0.823]``."""
    names = list(metrics)
    rows = {e.name: [e.metrics[m].format(digits) for m in names] for e in evals}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=names)
    table.index.name = "model"
    return table


def flatten_metrics(metrics: Mapping[str, MetricValue], prefix: str = "") -> dict[str, float]:
    """Plain floats for a tracking store: ``name``, ``name_ci_low``, ``name_ci_high``."""
    flat: dict[str, float] = {}
    for name, mv in metrics.items():
        flat[f"{prefix}{name}"] = mv.value
        if mv.low is not None and mv.high is not None:
            flat[f"{prefix}{name}_ci_low"] = mv.low
            flat[f"{prefix}{name}_ci_high"] = mv.high
    return flat

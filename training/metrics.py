"""Holdout metrics from one engine: discrimination, calibration, lift and curves.

Every metric here is computed by :func:`weighted_metrics`, which takes the rows sorted by
score, grouped into runs of tied scores, and a matrix of row weights. A point estimate uses
weight 1 per row; a bootstrap resample (`training/evaluate.py`) is the same computation with
each row weighted by how often it was drawn, which keeps point estimates and intervals
consistent.

Conventions:
- ``pr_auc`` is average precision (the step-wise area, as scikit-learn computes it).
- "Top share" means the ``round(share * n)`` highest-scored rows; rows tied with the boundary
  count in proportion (the expected value if ties were broken at random), so a coarse score
  such as the points-based baseline is not flattered or penalised by row order.
- Deciles follow the same rule: decile 1 holds the highest scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

LOG_LOSS_EPS = float(np.finfo(np.float64).eps)  # as scikit-learn clips
TOP_SHARES = {"top10": 0.10, "top20": 0.20}

METRIC_NAMES = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "lift_top10",
    "lift_top20",
    "capture_top10",
    "capture_top20",
    "base_rate",
)
"""Keys of :func:`training.evaluate.evaluate_predictions`, in display order."""

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece"})


# --------------------------------------------------------------------------- validation


def validate_predictions(y_true: ArrayLike, p: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Binary outcomes and probabilities as flat float arrays; ValueError if they are not."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    prob = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != prob.shape:
        raise ValueError(f"y_true has {y.size} rows but p has {prob.size}")
    if y.size == 0:
        raise ValueError("cannot evaluate an empty sample")
    if np.isnan(y).any() or np.isnan(prob).any():
        raise ValueError("y_true and p must not contain missing values")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must be binary (0/1)")
    if (prob < 0).any() or (prob > 1).any():
        raise ValueError("p must be probabilities in [0, 1]")
    return y, prob


def _check_share(top_share: float) -> None:
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share must be in (0, 1], got {top_share}")


# --------------------------------------------------------------------------- sorted groups


@dataclass(frozen=True)
class ScoreGroups:
    """Rows sorted by descending score and cut into runs of equal score."""

    order: npt.NDArray[np.intp]  # row positions, highest score first
    starts: npt.NDArray[np.intp]  # first sorted position of each tie group
    score: FloatArray  # score of each group (descending)
    y_sorted: FloatArray


def group_scores(y: FloatArray, p: FloatArray) -> ScoreGroups:
    order = np.argsort(-p, kind="stable")
    p_sorted = p[order]
    is_start = np.empty(p_sorted.size, dtype=bool)
    is_start[0] = True
    is_start[1:] = p_sorted[1:] != p_sorted[:-1]
    starts = np.flatnonzero(is_start)
    return ScoreGroups(order=order, starts=starts, score=p_sorted[starts], y_sorted=y[order])


def ece_bin_starts(score: FloatArray, n_bins: int, strategy: str, p: FloatArray) -> npt.NDArray:
    """Group indices where a new calibration bin starts (groups are in descending score)."""
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    if strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    # Bins close on the right except the first; tied scores always share a bin.
    bins = np.searchsorted(edges[1:-1], score, side="left")
    change = np.empty(bins.size, dtype=bool)
    change[0] = True
    change[1:] = bins[1:] != bins[:-1]
    return np.flatnonzero(change)


def _top_share_conversions(
    cum_w: FloatArray, cum_y: FloatArray, w: FloatArray, yw: FloatArray, k: FloatArray
) -> FloatArray:
    """Conversions among the k highest-scored rows, boundary ties counted in proportion."""
    # The group where the cumulative weight reaches k (clipped against float round-off).
    idx = np.minimum((cum_w < k[:, None]).sum(axis=1), cum_w.shape[1] - 1)
    rows = np.arange(cum_w.shape[0])
    w_at = w[rows, idx]
    before_w = cum_w[rows, idx] - w_at
    before_y = cum_y[rows, idx] - yw[rows, idx]
    return before_y + (k - before_w) * yw[rows, idx] / w_at


def _safe_divide(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def metrics_from_group_counts(
    w: FloatArray,
    yw: FloatArray,
    score: FloatArray,
    ece_starts: npt.NDArray,
) -> dict[str, FloatArray]:
    """All metrics for each row of (weights, weighted positives) per tie group."""
    nw = w - yw
    total = w.sum(axis=1)
    pos = yw.sum(axis=1)
    neg = total - pos
    cum_pos = np.cumsum(yw, axis=1)
    cum_neg = np.cumsum(nw, axis=1)
    cum_w = cum_pos + cum_neg

    # A positive beats every negative in lower groups, and half of those tied with it.
    below_neg = neg[:, None] - cum_neg
    roc_auc = _safe_divide((yw * (below_neg + 0.5 * nw)).sum(axis=1), pos * neg)

    precision = _safe_divide(cum_pos, cum_w)
    pr_auc = _safe_divide(np.nansum(yw * precision, axis=1), pos)

    clipped = np.clip(score, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    log_loss = -(yw @ np.log(clipped) + nw @ np.log1p(-clipped)) / total
    brier = (yw @ (1 - score) ** 2 + nw @ score**2) / total

    bin_y = np.add.reduceat(yw, ece_starts, axis=1)
    bin_p = np.add.reduceat(w * score, ece_starts, axis=1)
    ece = np.abs(bin_y - bin_p).sum(axis=1) / total

    out = {
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "log_loss": log_loss,
        "brier": brier,
        "ece": ece,
        "base_rate": pos / total,
    }
    for label, share in TOP_SHARES.items():
        k = _top_rows(share, total)
        captured = _top_share_conversions(cum_w, cum_pos, w, yw, k)
        capture = _safe_divide(captured, pos)
        out[f"capture_{label}"] = capture
        out[f"lift_{label}"] = capture / (k / total)
    return {name: out[name] for name in METRIC_NAMES}


def _top_rows(share: float, total: FloatArray) -> FloatArray:
    """How many rows make the top share of each weighted sample (at least one)."""
    return np.maximum(1.0, np.round(share * total))


def weighted_metrics(
    y_true: ArrayLike,
    p: ArrayLike,
    weights: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> dict[str, FloatArray]:
    """Every metric of :data:`METRIC_NAMES` for each row of a (resamples x rows) weight matrix.

    Weights are non-negative row multiplicities that sum to the number of rows (as bootstrap
    counts do); top shares are taken of that total. ECE bins come from the unweighted sample.
    """
    y, prob = validate_predictions(y_true, p)
    weight_matrix = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if weight_matrix.shape[1] != y.size:
        raise ValueError("weights must have one column per row")
    groups = group_scores(y, prob)
    ece_starts = ece_bin_starts(groups.score, n_bins, strategy, prob)
    w_sorted = weight_matrix[:, groups.order]
    w = np.add.reduceat(w_sorted, groups.starts, axis=1)
    yw = np.add.reduceat(w_sorted * groups.y_sorted, groups.starts, axis=1)
    return metrics_from_group_counts(w, yw, groups.score, ece_starts)


# --------------------------------------------------------------------------- single metrics


def expected_calibration_error(
    y_true: ArrayLike,
    p: ArrayLike,
    n_bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> float:
    """Share-weighted mean |observed rate - mean probability| over probability bins."""
    y, prob = validate_predictions(y_true, p)
    return float(
        weighted_metrics(y, prob, np.ones(y.size), n_bins=n_bins, strategy=strategy)["ece"][0]
    )


def _capture(y: FloatArray, prob: FloatArray, top_share: float) -> float:
    _check_share(top_share)
    groups = group_scores(y, prob)
    w = np.diff(np.append(groups.starts, y.size)).astype(np.float64)[None, :]
    yw = np.add.reduceat(groups.y_sorted, groups.starts)[None, :]
    k = _top_rows(top_share, np.array([float(y.size)]))
    captured = _top_share_conversions(np.cumsum(w, axis=1), np.cumsum(yw, axis=1), w, yw, k)
    positives = y.sum()
    return float(captured[0] / positives) if positives > 0 else float("nan")


def capture_at(y_true: ArrayLike, p: ArrayLike, top_share: float) -> float:
    """Share of all conversions found in the top ``top_share`` of rows by score."""
    y, prob = validate_predictions(y_true, p)
    return _capture(y, prob, top_share)


def lift_at(y_true: ArrayLike, p: ArrayLike, top_share: float) -> float:
    """Conversion rate in the top ``top_share`` of rows by score divided by the overall rate."""
    y, prob = validate_predictions(y_true, p)
    k = float(_top_rows(top_share, np.array([float(y.size)]))[0])
    return _capture(y, prob, top_share) / (k / y.size)


def decile_table(y_true: ArrayLike, p: ArrayLike) -> pd.DataFrame:
    """Conversion by score decile (1 = highest scores); boundary ties are shared in proportion."""
    y, prob = validate_predictions(y_true, p)
    n = y.size
    groups = group_scores(y, prob)
    sizes = np.diff(np.append(groups.starts, n)).astype(np.float64)
    cum_w = np.cumsum(sizes)
    cum_y = np.cumsum(np.add.reduceat(groups.y_sorted, groups.starts))
    cum_p = np.cumsum(sizes * groups.score)
    # Cumulative conversions / probability mass in the top m rows, interpolated inside tie groups
    # (piecewise linear in m, exact at group ends).
    knots = np.concatenate([[0.0], cum_w])
    bounds = np.array([round(n * d / 10) for d in range(11)], dtype=np.float64)
    conv_at = np.interp(bounds, knots, np.concatenate([[0.0], cum_y]))
    mass_at = np.interp(bounds, knots, np.concatenate([[0.0], cum_p]))
    rows = np.diff(bounds)
    conversions = np.diff(conv_at)
    positives = y.sum()
    overall_rate = positives / n
    keep = rows > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = conversions / rows
        table = pd.DataFrame(
            {
                "decile": np.arange(1, 11),
                "n": rows.astype(np.int64),
                "conversions": conversions,
                "conversion_rate": rate,
                "mean_probability": np.diff(mass_at) / rows,
                "lift": rate / overall_rate if overall_rate > 0 else np.nan,
                "cumulative_capture": conv_at[1:] / positives if positives > 0 else np.nan,
            }
        )
    return table.loc[keep].reset_index(drop=True)


def soft_auc(p_true: ArrayLike, score: ArrayLike) -> float:
    """Expected ROC AUC when each label is Bernoulli(p_true), over pairs i != j (ties count 1/2)."""
    pt = np.asarray(p_true, dtype=np.float64).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    if pt.shape != s.shape:
        raise ValueError(f"p_true has {pt.size} rows but score has {s.size}")
    if np.isnan(pt).any() or np.isnan(s).any():
        raise ValueError("p_true and score must not contain missing values")
    if (pt < 0).any() or (pt > 1).any():
        raise ValueError("p_true must be probabilities in [0, 1]")
    order = np.argsort(s, kind="stable")
    s_sorted, pt_sorted = s[order], pt[order]
    is_start = np.empty(s.size, dtype=bool)
    if s.size:
        is_start[0] = True
        is_start[1:] = s_sorted[1:] != s_sorted[:-1]
    starts = np.flatnonzero(is_start)
    if starts.size == 0:
        return float("nan")
    pos = np.add.reduceat(pt_sorted, starts)  # expected positives per tie group (ascending)
    neg = np.add.reduceat(1 - pt_sorted, starts)
    self_pairs = np.add.reduceat(pt_sorted * (1 - pt_sorted), starts)
    neg_below = np.cumsum(neg) - neg
    numerator = (pos * neg_below).sum() + 0.5 * (pos * neg - self_pairs).sum()
    denominator = pos.sum() * neg.sum() - self_pairs.sum()
    return float(numerator / denominator) if denominator > 0 else float("nan")


def expected_log_loss(p_true: ArrayLike, p: ArrayLike) -> float:
    """Mean log loss of ``p`` when labels are Bernoulli(p_true) (cross-entropy, p clipped)."""
    pt = np.asarray(p_true, dtype=np.float64).ravel()
    prob = np.clip(np.asarray(p, dtype=np.float64).ravel(), LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    if pt.shape != prob.shape:
        raise ValueError(f"p_true has {pt.size} rows but p has {prob.size}")
    if pt.size == 0:
        raise ValueError("cannot evaluate an empty sample")
    return float(-np.mean(pt * np.log(prob) + (1 - pt) * np.log1p(-prob)))


def calibration_curve(
    y_true: ArrayLike, p: ArrayLike, n_bins: int = 10
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Mean probability, observed rate and count per quantile bin (tied scores share a bin)."""
    y, prob = validate_predictions(y_true, p)
    groups = group_scores(y, prob)
    bin_starts = ece_bin_starts(groups.score, n_bins, "quantile", prob)
    row_starts = groups.starts[bin_starts]
    p_sorted = prob[groups.order]
    counts = np.diff(np.append(row_starts, y.size))
    # Groups are in descending score; report bins from low to high probability.
    mean_p = (np.add.reduceat(p_sorted, row_starts) / counts)[::-1]
    rate = (np.add.reduceat(groups.y_sorted, row_starts) / counts)[::-1]
    return mean_p, rate, counts[::-1].astype(np.int64)


def gains_curve(y_true: ArrayLike, p: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Share of leads contacted (highest scores first) vs share of conversions captured.

    Points sit at the ends of tie groups, so the curve is linear across ties: the expected
    capture if tied leads were contacted in random order.
    """
    y, prob = validate_predictions(y_true, p)
    groups = group_scores(y, prob)
    sizes = np.diff(np.append(groups.starts, y.size))
    converted = np.add.reduceat(groups.y_sorted, groups.starts)
    share = np.concatenate([[0.0], np.cumsum(sizes) / y.size])
    total = converted.sum()
    captured = np.cumsum(converted) / total if total > 0 else np.full(sizes.size, np.nan)
    return share, np.concatenate([[0.0], captured])

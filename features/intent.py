"""Buying intent pooled over activity types: how strongly a lead's fresh activity signals a buy.

A hand-raise ("Requested a demo", "Talk to an Expert") is rare: on a CRM of a few thousand
leads a model sees a few dozen leads whose only fresh activity is one of a given type, so its
own features read that type's effect from too few leads (an unlucky draw reads it as negative),
and shallow trees rarely spend a split on it where many lead fields compete. The two features
here pool the types, so every type's fresh activity supports one reading:

- ``act__any__intent_peak_hl<h>d``: the strongest fresh activity, max over types of
  ``lift(type) x 0.5 ** (days since its last one / h)`` (types with a positive lift only);
- ``act__any__intent_mix_hl<h>d``: the lift of the lead's recent activity mix, the sum over
  types of ``lift(type) x share(type)``, a type's share being its part of the lead's activity
  decayed with the same half-life. A lone fresh demo request has the demo request's lift; the
  same request amid twenty visits about the visits'.

`lift(type)` is learned point in time from labelled training rows and never from an activity's
name (worlds rename their types): the log of the won rate of rows that did that type lately
(each row weighted by ``0.5 ** (days since the type's last one / h)``) over the won rate of all
rows, shrunk towards 0 with `PRIOR_ROWS` rows at the overall rate. The caller passes the rows
of the cohort the model is fitted on, never validation or holdout rows
(`training.intent.add_intent_features`).
"""

from __future__ import annotations

import numpy as np

from features.info import INTENT_MIX, INTENT_PEAK, FeatureInfo

# Pseudo-rows at the overall rate added to every type's rows: a type seen lately in fewer rows
# than this keeps most of its lift towards 0 (no signal), a frequent type its own rate.
PRIOR_ROWS = 100.0


def freshness(days_since_last: np.ndarray, half_life_days: float) -> np.ndarray:
    """``0.5 ** (days / half_life)``, 0 where the type was never seen (NaN)."""
    with np.errstate(invalid="ignore"):
        fresh = np.exp2(-np.asarray(days_since_last, dtype=np.float64) / half_life_days)
    return np.where(np.isnan(fresh), 0.0, fresh)


def learn_lifts(
    days_since_last: np.ndarray,
    label: np.ndarray,
    sample_weight: np.ndarray | None,
    half_life_days: float,
    prior_rows: float = PRIOR_ROWS,
) -> np.ndarray:
    """Per type (a column of `days_since_last`, one row per labelled snapshot), its lift.

    0 for every type when the rows hold no win or no loss (nothing to learn from).
    """
    y = np.asarray(label, dtype=np.float64)
    w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = w.sum()
    wins = (w * y).sum()
    n_types = days_since_last.shape[1]
    if total <= 0 or wins <= 0 or wins >= total:
        return np.zeros(n_types)
    base = wins / total
    fresh = freshness(days_since_last, half_life_days)
    rows = w @ fresh
    won = (w * y) @ fresh
    rate = (won + prior_rows * base) / (rows + prior_rows)
    return np.log(rate / base)


def intent_values(
    days_since_last: np.ndarray,
    decayed: np.ndarray,
    decayed_all: np.ndarray,
    lifts: np.ndarray,
    half_life_days: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The peak and the mix (module docstring) of each row, from each type's days since its
    last one and decayed count (and all activities' decayed count) at the half-life; both 0
    without activity."""
    positive = np.maximum(lifts, 0.0)
    peak = (freshness(days_since_last, half_life_days) * positive).max(axis=1, initial=0.0)
    total = np.asarray(decayed_all, dtype=np.float64)
    # Row by row (not a matrix product, whose summation order may hang on the row count), so
    # one lead alone reads bit for bit as in a batch.
    weighted = (np.asarray(decayed, dtype=np.float64) * lifts).sum(axis=1)
    mix = np.divide(weighted, total, out=np.zeros_like(total), where=total > 0)
    return peak, mix


def intent_infos(half_life_days: float, label: str) -> list[FeatureInfo]:
    """The two features' metadata (group engagement, over all activity types)."""
    return [
        FeatureInfo(
            f"act__any__intent_peak_hl{label}d",
            "engagement",
            INTENT_PEAK,
            f"strongest learned buying signal of fresh activity, {label}-day half-life",
            half_life_days=half_life_days,
        ),
        FeatureInfo(
            f"act__any__intent_mix_hl{label}d",
            "engagement",
            INTENT_MIX,
            f"learned buying signal of the recent activity mix, {label}-day half-life",
            half_life_days=half_life_days,
        ),
    ]

"""The Thresholds page's figures for one set of targets, from the CLI's own solver.

`choose_policy` (ops.targets) picks the thresholds on the evaluation set `leadscore thresholds`
uses, so the same targets give the same thresholds here and on the command line. This module
only reads the result for people: per-week volumes, precision and recall with 95 % Wilson
intervals (each lead one trial), the gains curve and the score distribution for the charts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.tiers import MQL, SQL, TierPolicy
from ops.closed_loop import wilson_interval
from ops.evaluation_set import EvaluationSet, tier_figures
from ops.targets import TARGET_TEXT, ThresholdChoice, ThresholdTargets, choose_policy

# Rates are entered as percentages, capacity as SQLs per week.
PERCENT_TARGETS = ("sql_precision", "sql_share", "mql_recall", "mql_share")
TARGET_ORDER = ("sql_capacity", "sql_precision", "sql_share", "mql_recall", "mql_share")
CONTROL_LABELS = {
    "sql_capacity": "SQL capacity: SQLs per week sales can work",
    "sql_precision": "SQL precision: share of SQLs that convert",
    "sql_share": "SQL share: share of leads that are SQL",
    "mql_recall": "MQL recall: share of conversions at MQL or above",
    "mql_share": "MQL share: share of leads in the MQL tier",
}
GAINS_POINTS = 200
HISTOGRAM_BINS = 40


class TargetError(ValueError):
    """A target the form sent cannot be used; the message is for the person."""


@dataclass(frozen=True)
class TargetControl:
    name: str
    label: str
    bound: str  # "at most" / "at least"
    unit: str
    minimum: float
    maximum: float
    step: float
    value: float
    used: bool


def controls(data: EvaluationSet, given: Mapping[str, float]) -> list[TargetControl]:
    """The five target controls, their ranges set from this evaluation set."""
    inflow = data.leads_per_week
    defaults = {
        "sql_capacity": round(inflow * 0.05, 1),
        "sql_precision": round(min(99.0, 100 * data.base_rate * 4), 1),
        "sql_share": 5.0,
        "mql_recall": 60.0,
        "mql_share": 15.0,
    }
    ranges = {
        "sql_capacity": (0.5, max(1.0, round(inflow, 1)), 0.5),
        "sql_precision": (0.5, 100.0, 0.5),
        "sql_share": (0.5, 100.0, 0.5),
        "mql_recall": (1.0, 100.0, 1.0),
        "mql_share": (0.5, 100.0, 0.5),
    }
    units = {"sql_capacity": "SQLs per week"} | dict.fromkeys(PERCENT_TARGETS, "%")
    out = []
    for name in TARGET_ORDER:
        label, bound = CONTROL_LABELS[name], TARGET_TEXT[name][1]
        low, high, step = ranges[name]
        used = name in given
        value = given[name] if used else defaults[name]
        if used and name in PERCENT_TARGETS:
            value = round(100 * value, 4)
        out.append(TargetControl(name, label, bound, units[name], low, high, step, value, used))
    return out


def targets_from_form(form: Mapping[str, str]) -> ThresholdTargets:
    """Targets from the form: `use_<name>` ticks a target, `<name>` is its value."""
    values: dict[str, float] = {}
    for name in TARGET_ORDER:
        if not form.get(f"use_{name}"):
            continue
        raw = (form.get(name) or "").strip().replace(",", "")
        if not raw:
            continue
        try:
            number = float(raw)
        except ValueError:
            raise TargetError(f"{TARGET_TEXT[name][0]}: {raw!r} is not a number") from None
        if not np.isfinite(number):
            raise TargetError(f"{TARGET_TEXT[name][0]}: {raw!r} is not a number")
        values[name] = number / 100 if name in PERCENT_TARGETS else number
    try:
        return ThresholdTargets(**values)
    except ValueError as exc:
        raise TargetError(str(exc).replace("_", " ")) from None


@dataclass(frozen=True)
class Estimate:
    """A rate with its 95 % interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ThresholdView:
    targets: ThresholdTargets
    choice: ThresholdChoice
    policy: TierPolicy
    current: TierPolicy
    tiers: dict[str, dict[str, float]]  # tier -> tier_figures' columns
    sql_precision: Estimate
    mql_precision: Estimate
    sql_recall: Estimate
    mql_recall: Estimate
    charts: dict[str, Any] = field(default_factory=dict)
    closest: dict[str, float] = field(default_factory=dict)  # unmet target -> reachable value


def _reachable(name: str, achieved: float) -> float:
    """`achieved` as the form shows it (percent or per week), rounded to 2 decimals towards
    what the thresholds reach, so that the offered target is met when taken."""
    value = achieved * 100 if name in PERCENT_TARGETS else achieved
    if TARGET_TEXT[name][1] == "at least":
        return math.floor(value * 100) / 100
    return math.ceil(value * 100) / 100


def _estimate(successes: float, trials: float) -> Estimate:
    if trials <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    low, high = wilson_interval(np.array([successes]), np.array([trials]))
    return Estimate(successes / trials, float(low[0]), float(high[0]))


def _gains(curve: pd.DataFrame) -> dict[str, list[float]]:
    """Share of leads against share of conversions captured, thinned to a few hundred points."""
    keep = np.unique(np.linspace(0, len(curve) - 1, min(GAINS_POINTS, len(curve))).astype(int))
    share = np.concatenate([[0.0], curve["share"].to_numpy()[keep]])
    recall = np.concatenate([[0.0], np.nan_to_num(curve["recall"].to_numpy()[keep])])
    return {"share": share.round(5).tolist(), "recall": recall.round(5).tolist()}


def score_histogram(
    probability: np.ndarray, weight: np.ndarray | None = None, bins: int = HISTOGRAM_BINS
) -> dict[str, list[float]]:
    """Leads per probability bin up to the 99.5th percentile (the rest in the last bin)."""
    p = np.asarray(probability, dtype=float)
    w = np.ones_like(p) if weight is None else np.asarray(weight, dtype=float)
    top = float(np.quantile(p, 0.995)) if p.size else 1.0
    edges = np.linspace(0.0, max(top, 1e-6), bins + 1)
    counts, _ = np.histogram(np.minimum(p, edges[-1]), bins=edges, weights=w)
    return {
        "edges": edges.round(6).tolist(),
        "leads": (counts / max(w.sum(), 1e-12)).round(6).tolist(),  # share of leads per bin
    }


def threshold_view(
    data: EvaluationSet,
    targets: ThresholdTargets,
    current: TierPolicy,
    recent_scores: np.ndarray | None = None,
) -> ThresholdView:
    """The solver's choice for `targets` and every figure the page shows."""
    curve, choice, policy = choose_policy(data, targets, current)
    tiers: dict[str, dict[str, float]] = {
        str(row["tier"]): {str(k): float(v) for k, v in row.items() if k != "tier"}
        for row in tier_figures(data, policy).to_dict(orient="records")
    }
    weighted_won = data.weight * data.label
    total_won = float(weighted_won.sum())
    sql_mask = data.probability >= policy.sql_threshold
    mql_mask = (data.probability >= policy.mql_threshold) & ~sql_mask
    won_sql = float(weighted_won[sql_mask].sum())
    won_mql = float(weighted_won[mql_mask].sum())
    charts: dict[str, Any] = {
        "gains": {
            **_gains(curve),
            "sql_share": float(tiers[SQL]["share"]),
            "mql_share": float(tiers[SQL]["share"] + tiers[MQL]["share"]),
        },
        "distribution": {
            **score_histogram(
                data.probability if recent_scores is None else recent_scores,
                data.weight if recent_scores is None else None,
            ),
            "sql_threshold": policy.sql_threshold,
            "mql_threshold": policy.mql_threshold,
        },
    }
    # The chosen thresholds minimise the largest shortfall: their figures are the closest
    # targets that can all be met together.
    closest = {o.name: _reachable(o.name, o.achieved) for o in choice.outcomes if not o.met}
    return ThresholdView(
        targets=targets,
        choice=choice,
        policy=policy,
        current=current,
        tiers=tiers,
        sql_precision=_estimate(won_sql, float(data.weight[sql_mask].sum())),
        mql_precision=_estimate(won_mql, float(data.weight[mql_mask].sum())),
        sql_recall=_estimate(won_sql, total_won),
        mql_recall=_estimate(won_sql + won_mql, total_won),
        charts=charts,
        closest=closest,
    )

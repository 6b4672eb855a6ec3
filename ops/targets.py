"""The target solver: SQL and MQL thresholds for what marketing ops and sales ask of the tiers.

SQL = probability at or above the SQL threshold, MQL = at or above the MQL threshold but below
the SQL one (as `assign_tier`). `sql_share` and `mql_share` are shares of the SQL and MQL tiers
alone (as `TierPolicy.from_shares`); `mql_recall` is the recall at the MQL threshold
(conversions in MQL or SQL). Figures come from the curve of ops/evaluation_set.py.

Choosing: the SQL threshold is the lowest one meeting every SQL target (the most leads sales can
take); the MQL threshold, with a share target, the lowest meeting every MQL target, with only a
recall target, the highest reaching it. A tier without targets keeps the current threshold.
When targets cannot all be met, the choice minimises the largest relative shortfall (e.g. 10 %
below a precision target, 5 % over a capacity) and every unmet target is named with the best
it can reach on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.tiers import MQL, NURTURE, SQL, TierPolicy
from ops.evaluation_set import TOLERANCE, EvaluationSet, threshold_curve, tier_figures

DEFAULT_MIN_LEADS = 20.0
CANDIDATE_SHARES = (0.01, 0.02, 0.03, 0.05, 0.075, 0.10, 0.15, 0.20, 0.30, 0.40, 0.50)


@dataclass(frozen=True)
class ThresholdTargets:
    """What marketing ops and sales ask of the tiers; any combination, None = no target."""

    sql_capacity: float | None = None  # SQLs per week sales can work (at most)
    sql_precision: float | None = None  # conversion rate of SQLs (at least)
    sql_share: float | None = None  # share of leads in SQL (at most)
    mql_recall: float | None = None  # share of conversions in MQL or SQL (at least)
    mql_share: float | None = None  # share of leads in MQL alone (at most)
    min_leads: float = DEFAULT_MIN_LEADS  # a precision needs at least this many leads above

    def __post_init__(self) -> None:
        if self.sql_capacity is not None and self.sql_capacity <= 0:
            raise ValueError("sql_capacity must be positive")
        for name in ("sql_precision", "sql_share", "mql_recall", "mql_share"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.min_leads < 0:
            raise ValueError("min_leads must not be negative")

    def given(self) -> dict[str, float]:
        names = ("sql_capacity", "sql_precision", "sql_share", "mql_recall", "mql_share")
        return {n: float(getattr(self, n)) for n in names if getattr(self, n) is not None}

    @property
    def has_sql(self) -> bool:
        return any(k.startswith("sql_") for k in self.given())

    @property
    def has_mql(self) -> bool:
        return any(k.startswith("mql_") for k in self.given())


TARGET_TEXT = {
    "sql_capacity": ("SQLs per week", "at most", "{:.1f}"),
    "sql_precision": ("SQL conversion rate", "at least", "{:.1%}"),
    "sql_share": ("share of leads in SQL", "at most", "{:.1%}"),
    "mql_recall": ("share of conversions at MQL or above", "at least", "{:.1%}"),
    "mql_share": ("share of leads in MQL", "at most", "{:.1%}"),
}


@dataclass(frozen=True)
class TargetOutcome:
    """One target: what was asked, what the chosen thresholds give, and the best on its own."""

    name: str
    target: float
    achieved: float
    met: bool
    best_alone: float | None = None  # best value reachable for this target alone (if unmet)
    best_threshold: float | None = None
    met_alone: bool = False  # unmet, but some threshold meets it on its own

    def describe(self) -> str:
        label, bound, fmt = TARGET_TEXT[self.name]
        text = f"{label} {bound} {fmt.format(self.target)}: {fmt.format(self.achieved)}" + (
            " (met)" if self.met else " (NOT met)"
        )
        if self.met or self.best_alone is None or self.best_threshold is None:
            return text
        if self.met_alone:
            return text + (
                f"; on its own it is met (e.g. {fmt.format(self.best_alone)} at threshold "
                f"{self.best_threshold:.4f}), but not together with the other targets"
            )
        return text + (
            f"; it cannot be met: the best reachable is {fmt.format(self.best_alone)} "
            f"at threshold {self.best_threshold:.4f}"
        )


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen thresholds, how each target fares, and plain-words notes."""

    sql_threshold: float
    mql_threshold: float
    outcomes: list[TargetOutcome]
    notes: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return all(o.met for o in self.outcomes)

    @property
    def unmet(self) -> list[TargetOutcome]:
        return [o for o in self.outcomes if not o.met]


def _sql_violations(
    curve: pd.DataFrame, targets: ThresholdTargets
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per SQL target: (relative violation per curve row (<= 0 is met), achieved value)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    per_week = curve["leads_per_week"].to_numpy()
    share = curve["share"].to_numpy()
    precision = curve["precision"].to_numpy()
    if targets.sql_capacity is not None:
        out["sql_capacity"] = (per_week / targets.sql_capacity - 1.0, per_week)
    if targets.sql_share is not None:
        out["sql_share"] = (share / targets.sql_share - 1.0, share)
    if targets.sql_precision is not None:
        violation = 1.0 - precision / targets.sql_precision
        # Too few leads above a threshold: their conversion rate is noise, not a precision.
        violation = np.where(curve["leads"].to_numpy() < targets.min_leads, np.inf, violation)
        out["sql_precision"] = (violation, precision)
    return out


def _mql_violations(
    curve: pd.DataFrame, targets: ThresholdTargets, sql_share: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    recall = curve["recall"].to_numpy()
    tier_share = np.maximum(curve["share"].to_numpy() - sql_share, 0.0)
    if targets.mql_recall is not None:
        out["mql_recall"] = (1.0 - recall / targets.mql_recall, recall)
    if targets.mql_share is not None:
        out["mql_share"] = (tier_share / targets.mql_share - 1.0, tier_share)
    return out


def _pick(violations: dict[str, tuple[np.ndarray, np.ndarray]], lowest: bool) -> tuple[int, bool]:
    """Row meeting every target (lowest or highest threshold), else the least-violating row."""
    matrix = np.vstack([v for v, _ in violations.values()])
    worst = matrix.max(axis=0)
    feasible = np.flatnonzero(worst <= TOLERANCE)
    if feasible.size:
        return int(feasible[-1] if lowest else feasible[0]), True
    finite = np.where(np.isfinite(worst), worst, np.inf)
    return int(np.argmin(finite)), False


def _outcomes(
    violations: dict[str, tuple[np.ndarray, np.ndarray]],
    row: int,
    thresholds: np.ndarray,
    targets: ThresholdTargets,
) -> list[TargetOutcome]:
    outcomes = []
    given = targets.given()
    for name, (violation, achieved) in violations.items():
        met = bool(violation[row] <= TOLERANCE)
        best_alone = best_threshold = None
        met_alone = False
        if not met:
            alone = np.flatnonzero(violation <= TOLERANCE)
            met_alone = bool(alone.size)
            # Met alone: the threshold where it is just met; else where it comes closest.
            best = (
                int(alone[np.argmax(violation[alone])]) if met_alone else int(np.argmin(violation))
            )
            best_alone, best_threshold = float(achieved[best]), float(thresholds[best])
        outcomes.append(
            TargetOutcome(
                name,
                given[name],
                float(achieved[row]),
                met,
                best_alone,
                best_threshold,
                met_alone,
            )
        )
    return outcomes


def choose_thresholds(
    curve: pd.DataFrame, targets: ThresholdTargets, current: TierPolicy
) -> ThresholdChoice:
    """SQL and MQL thresholds meeting the targets (see the module docstring for the rules)."""
    thresholds = curve["threshold"].to_numpy()
    notes: list[str] = []
    outcomes: list[TargetOutcome] = []

    sql_threshold = current.sql_threshold
    if targets.has_sql:
        violations = _sql_violations(curve, targets)
        row, feasible = _pick(violations, lowest=True)
        sql_threshold = float(thresholds[row])
        outcomes += _outcomes(violations, row, thresholds, targets)
        if not feasible:
            notes.append(
                "The SQL targets cannot all be met; the SQL threshold is the closest choice "
                "(smallest largest relative shortfall)."
            )
        if row == len(curve) - 1 and targets.sql_capacity is not None:
            notes.append(
                "Every lead fits the SQL capacity: the inflow is at most "
                f"{curve['leads_per_week'].iloc[-1]:.1f} leads per week."
            )

    if targets.has_mql:
        above_sql = curve["threshold"].to_numpy() >= sql_threshold
        sql_share = float(curve["share"].to_numpy()[above_sql].max(initial=0.0))
        # Candidates: every threshold at or below the SQL one, the SQL threshold itself first.
        below = curve[~above_sql]
        at_sql = pd.DataFrame(
            {
                "threshold": [sql_threshold],
                "share": [sql_share],
                "recall": [float(curve["recall"].to_numpy()[above_sql].max(initial=0.0))],
            }
        )
        candidates = pd.concat([at_sql, below[["threshold", "share", "recall"]]], ignore_index=True)
        violations = _mql_violations(candidates, targets, sql_share)
        row, feasible = _pick(violations, lowest=targets.mql_share is not None)
        mql_threshold = float(candidates["threshold"].iloc[row])
        outcomes += _outcomes(violations, row, candidates["threshold"].to_numpy(), targets)
        if not feasible:
            notes.append(
                "The MQL targets cannot all be met; the MQL threshold is the closest choice."
            )
    else:
        mql_threshold = min(current.mql_threshold, sql_threshold)
        if current.mql_threshold > sql_threshold:
            notes.append("The MQL threshold was above the new SQL one; it is lowered to it.")
    return ThresholdChoice(sql_threshold, mql_threshold, outcomes, notes)


def candidate_table(
    curve: pd.DataFrame,
    choice: ThresholdChoice | None = None,
    shares: tuple[float, ...] = CANDIDATE_SHARES,
) -> pd.DataFrame:
    """Rows of the curve at round shares of leads, plus the chosen thresholds, highest first."""
    share = curve["share"].to_numpy()
    rows = {int(np.argmin(np.abs(share - s))) for s in shares if s <= share[-1] + 1e-12}
    marks: dict[int, str] = {}
    if choice is not None:
        thresholds = curve["threshold"].to_numpy()
        for tier, value in ((MQL, choice.mql_threshold), (SQL, choice.sql_threshold)):
            # The curve row whose "at or above" set equals assign_tier's for this threshold.
            at_or_above = np.flatnonzero(thresholds >= value)
            if at_or_above.size:
                row = int(at_or_above[-1])
                rows.add(row)
                marks[row] = f"{marks[row]}+{tier}" if row in marks else tier
    table = curve.iloc[sorted(rows)].copy()
    table.insert(0, "chosen", [marks.get(i, "") for i in sorted(rows)])
    return table.reset_index(drop=True)


def choose_policy(
    data: EvaluationSet,
    targets: ThresholdTargets,
    current: TierPolicy,
) -> tuple[pd.DataFrame, ThresholdChoice, TierPolicy]:
    """The curve, the choice and the resulting (unversioned) policy in one call."""
    curve = threshold_curve(data)
    choice = choose_thresholds(curve, targets, current)
    policy = TierPolicy(
        sql_threshold=choice.sql_threshold,
        mql_threshold=choice.mql_threshold,
        version=current.version,
        basis={"targets": targets.given(), "source": data.source},
    )
    return curve, choice, policy


def policy_figures(data: EvaluationSet, policy: TierPolicy) -> dict[str, Any]:
    """The figures a policy is recorded with: inflow, period, and per tier."""
    tiers = tier_figures(data, policy).set_index("tier")
    recall_at_mql = tiers.loc[[SQL, MQL], "share_of_conversions"].sum()
    return {
        "source": data.source,
        # a single-table model without times has no window
        "window_start": f"{data.window_start:%Y-%m-%d}" if pd.notna(data.window_start) else "",
        "window_end": f"{data.window_end:%Y-%m-%d}" if pd.notna(data.window_end) else "",
        "leads": round(data.n_leads, 1),
        "leads_per_week": round(data.leads_per_week, 3),
        "inflow_source": data.inflow_source,
        "base_rate": round(data.base_rate, 5),
        "mql_or_better_recall": round(float(recall_at_mql), 5),
        "tiers": {
            tier: {str(k): round(float(v), 5) for k, v in tiers.loc[tier].to_dict().items()}
            for tier in (SQL, MQL, NURTURE)
        },
    }

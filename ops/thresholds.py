"""Tier thresholds against sales capacity: what a threshold does to volume, precision, recall.

The evaluation population is a labelled, fully observed period of lead snapshots: the model's
own holdout (stored with its training run) or a fresh export's latest fully observed period.

Definitions (docs/marketing-ops.md says the same in prose):
- Every lead of the period counts once: each of its k snapshots (the lead looked at, at
  different ages, while it had no opportunity) carries weight 1/k. So "share of leads above a
  threshold" is the share of leads, each taken at a random moment of its open life.
- Lead inflow (leads per week) is the number of distinct leads of the period created between
  the period's start and its end minus one snapshot interval (every such lead has had its first
  snapshot), divided by the weeks in that interval. It is the rate at which open leads enter
  the scored population. Because the period is months old and volume grows or shrinks, the
  plan uses the *recent* inflow when known: the same count over the 4 weeks before the cut-off
  (`recent_inflow`; always with an export, and from the run parameter `recent_leads_per_week`
  when training recorded it); `leads_per_week` overrides both with a forecast.
- Leads per week above a threshold = inflow x share above it; expected won deals per week =
  inflow x (weighted conversions above it / weighted leads). Precision is the (weighted)
  conversion rate above a threshold, recall the share of all conversions above it, lift the
  precision over the overall conversion rate.
- A refitted served model (the default of training) has no out-of-sample holdout scores: its
  thresholds are the evaluated model's carried over by share of leads (`to_served_scale`), so
  volumes follow the served model while precision and recall stay out of sample.
- SQL = probability at or above the SQL threshold, MQL = at or above the MQL threshold but below
  the SQL one (as `assign_tier`). `sql_share` and `mql_share` are shares of the SQL and MQL
  tiers alone (as `TierPolicy.from_shares`); `mql_recall` is the recall at the MQL threshold
  (conversions in MQL or SQL).

Choosing: the SQL threshold is the lowest one meeting every SQL target (the most leads sales can
take); the MQL threshold, with a share target, the lowest meeting every MQL target, with only a
recall target, the highest reaching it. A tier without targets keeps the current threshold.
When targets cannot all be met, the choice minimises the largest relative shortfall (e.g. 10 %
below a precision target, 5 % over a capacity) and every unmet target is named with the best
it can reach on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.build import LeadHistory
from features.contract import Export
from models.tiers import MQL, NURTURE, SQL, TIERS, TierPolicy, assign_tier
from training.inflow import RECENT_INFLOW_DAYS, lead_inflow, recent_inflow
from training.labels import SnapshotScheme, build_snapshots, label_snapshots
from training.pipeline import LIGHTGBM, SERVED
from training.plots import REFERENCE_COLOR, plot_calibration, plot_cumulative_gains
from training.report import ReportSection

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from models.scorer import LeadScorer

log = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
DEFAULT_MIN_LEADS = 20.0
RECENT_INFLOW_PARAM = "recent_leads_per_week"  # a training run parameter, when recorded
CANDIDATE_SHARES = (0.01, 0.02, 0.03, 0.05, 0.075, 0.10, 0.15, 0.20, 0.30, 0.40, 0.50)
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class EvaluationSet:
    """Scored, labelled snapshots of one period, each lead weighted once, and the lead inflow."""

    probability: np.ndarray
    label: np.ndarray
    weight: np.ndarray
    leads_per_week: float
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    source: str
    inflow_source: str = "evaluation period"
    # True when `probability` is the evaluated model's carried to the served model's scale.
    on_served_scale: bool = False

    def __post_init__(self) -> None:
        n = self.probability.size
        if n == 0:
            raise ValueError("the evaluation period has no scored snapshots")
        if self.label.size != n or self.weight.size != n:
            raise ValueError("probability, label and weight must have one value per snapshot")
        if not self.leads_per_week > 0:
            raise ValueError("leads per week must be positive")

    @property
    def n_leads(self) -> float:
        return float(self.weight.sum())

    @property
    def base_rate(self) -> float:
        return float((self.weight * self.label).sum() / self.weight.sum())

    def with_inflow(self, leads_per_week: float, source: str) -> EvaluationSet:
        return replace(self, leads_per_week=float(leads_per_week), inflow_source=source)


def evaluation_set(
    snapshots: pd.DataFrame,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    every_days: float,
    source: str,
) -> EvaluationSet:
    """From snapshots with lead_id, created_at, label, probability (one row per snapshot)."""
    if snapshots.empty:
        raise ValueError(f"no scored snapshots in {source}")
    per_lead = snapshots.groupby("lead_id")["lead_id"].transform("size").to_numpy(dtype=float)
    return EvaluationSet(
        probability=snapshots["probability"].to_numpy(dtype=float),
        label=snapshots["label"].to_numpy(dtype=float),
        weight=1.0 / per_lead,
        leads_per_week=lead_inflow(
            snapshots["lead_id"], snapshots["created_at"], window_start, window_end, every_days
        ),
        window_start=window_start,
        window_end=window_end,
        source=source,
    )


def _descending(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts `p` highest first, and the sorted positions that end a tie.

    Cumulative sums over that order, read at a tie's end, count everything at or above it.
    """
    order = np.argsort(-p, kind="stable")
    p_desc = p[order]
    return order, np.flatnonzero(np.append(p_desc[1:] != p_desc[:-1], True))


def to_served_scale(evaluated: np.ndarray, served: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Evaluated probabilities carried to the served model's scale by share of leads.

    Each evaluated probability p becomes the served model's score at which the same weighted
    share of the same snapshots lies at or above it as lies at or above p under the evaluated
    model. The map is monotone, so the order, precision and recall stay the evaluated model's
    (out of sample), while a threshold on the result selects the share of leads the served
    model will select.
    """
    evaluated = np.asarray(evaluated, dtype=float)
    served = np.asarray(served, dtype=float)
    weight = np.asarray(weight, dtype=float)
    total = weight.sum()
    by_served = np.argsort(-served, kind="stable")
    served_desc = served[by_served]
    served_share = np.cumsum(weight[by_served]) / total
    by_evaluated, last_of_tie = _descending(evaluated)
    share = np.cumsum(weight[by_evaluated]) / total
    # Tied evaluated probabilities share the share of their whole tie (at-or-above counts all).
    tie_share = share[last_of_tie][np.searchsorted(last_of_tie, np.arange(share.size))]
    at = np.searchsorted(served_share, tie_share - _TOLERANCE, side="left")
    mapped = np.empty_like(evaluated)
    mapped[by_evaluated] = served_desc[np.minimum(at, served_desc.size - 1)]
    return mapped


def holdout_evaluation_set(
    predictions: pd.DataFrame,
    params: Mapping[str, str],
    probability_column: str = LIGHTGBM,
    source: str = "the model's holdout",
) -> EvaluationSet:
    """The training run's holdout predictions with the run's window and snapshot interval.

    When the run stored the served model's own holdout scores (column `served_model`) and they
    differ from the evaluated ones (a refit), the probabilities are carried to the served
    model's scale with `to_served_scale`.
    """
    frame = predictions.rename(columns={probability_column: "probability"})
    frame = frame.assign(created_at=frame["as_of"] - pd.to_timedelta(frame["age_days"], unit="D"))
    # Without the run's boundaries, the period is what the predictions themselves span.
    start = params.get("boundary_holdout_start")
    end = params.get("boundary_last_as_of")
    window_start = pd.Timestamp(start) if start else frame["created_at"].min()
    window_end = pd.Timestamp(end) if end else frame["as_of"].max()
    every = float(params.get("snapshot_every_days", 14))
    data = evaluation_set(frame, window_start, window_end, every, source)
    if SERVED in frame and not np.array_equal(frame[SERVED].to_numpy(), data.probability):
        data = replace(
            data,
            probability=to_served_scale(
                data.probability, frame[SERVED].to_numpy(dtype=float), data.weight
            ),
            source=f"{source}, on the served model's scale",
            on_served_scale=True,
        )
    recent = params.get(RECENT_INFLOW_PARAM)
    if recent:
        # Volume grows or shrinks, and the holdout is months old: plan with the inflow just
        # before the model's cut-off when the run recorded it.
        return data.with_inflow(
            float(recent),
            f"leads entering per week in the {RECENT_INFLOW_DAYS} days before the model's "
            f"cut-off; the holdout's own was {data.leads_per_week:,.1f}",
        )
    return data


def export_evaluation_set(
    export: Export,
    scorer: LeadScorer,
    as_of: pd.Timestamp | None = None,
    horizon_days: int = 90,
    window_days: int = 120,
    scheme: SnapshotScheme | None = None,
    inflow: str = "recent",
) -> EvaluationSet:
    """A fresh export's latest fully observed period, scored by `scorer`.

    Leads created in the `window_days` before `as_of - horizon`, snapshotted as in training,
    labelled with won-within-horizon; snapshots whose horizon passes `as_of` are left out.
    `inflow="recent"` plans with the leads entering per week in the 4 weeks before the cut-off
    (volume grows or shrinks; the period is months old), `"period"` with the period's own.
    """
    if inflow not in ("recent", "period"):
        raise ValueError(f"inflow must be 'recent' or 'period', got {inflow!r}")
    cutoff = export.cutoff if as_of is None else as_of
    last_as_of = cutoff - horizon_days * DAY
    window_start = last_as_of - window_days * DAY
    scheme = scheme or SnapshotScheme()
    snapshots = build_snapshots(export, last_as_of, scheme)
    snapshots = snapshots[snapshots["created_at"] >= window_start].reset_index(drop=True)
    if snapshots.empty:
        raise ValueError(
            f"no lead snapshots between {window_start:%Y-%m-%d} and {last_as_of:%Y-%m-%d}: "
            f"the export (cut-off {cutoff:%Y-%m-%d}) is too short for a {horizon_days}-day horizon"
        )
    snapshots["label"] = label_snapshots(snapshots, export, horizon_days)
    history = LeadHistory(export.leads, export.activities, snapshots[["lead_id", "as_of"]])
    snapshots["probability"] = scorer.score(history, explain=False)["probability"].to_numpy()
    data = evaluation_set(
        snapshots,
        window_start,
        last_as_of,
        scheme.every_days,
        f"export cut-off {cutoff:%Y-%m-%d}, leads created {window_start:%Y-%m-%d} to "
        f"{last_as_of:%Y-%m-%d}",
    )
    if inflow == "period":
        return data
    return data.with_inflow(
        recent_inflow(export, cutoff, scheme),
        f"leads entering per week in the {RECENT_INFLOW_DAYS} days before the cut-off; the "
        f"period's own was {data.leads_per_week:,.1f}",
    )


# --------------------------------------------------------------------------- the curve


def threshold_curve(data: EvaluationSet) -> pd.DataFrame:
    """Figures at every candidate threshold (each distinct probability), highest first."""
    order, last_of_tie = _descending(data.probability)
    p = data.probability[order]
    w = data.weight[order]
    yw = w * data.label[order]
    cum_w = np.cumsum(w)[last_of_tie]
    cum_yw = np.cumsum(yw)[last_of_tie]
    total_w, total_yw = float(w.sum()), float(yw.sum())
    share = cum_w / total_w
    precision = cum_yw / cum_w
    base = total_yw / total_w
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = cum_yw / total_yw if total_yw > 0 else np.full(share.size, np.nan)
        lift = precision / base if base > 0 else np.full(share.size, np.nan)
    return pd.DataFrame(
        {
            "threshold": p[last_of_tie],
            "snapshots": last_of_tie + 1,
            "leads": cum_w,
            "share": share,
            "leads_per_week": share * data.leads_per_week,
            "precision": precision,
            "recall": recall,
            "lift": lift,
            "won_per_week": cum_yw / total_w * data.leads_per_week,
        }
    )


def tier_figures(data: EvaluationSet, policy: TierPolicy) -> pd.DataFrame:
    """Per tier: share and number of leads per week, conversion rate, share of conversions."""
    tiers = assign_tier(data.probability, policy)
    total_w = data.weight.sum()
    total_yw = (data.weight * data.label).sum()
    rows = []
    for tier in TIERS:
        mask = tiers == tier
        w = float(data.weight[mask].sum())
        yw = float((data.weight * data.label)[mask].sum())
        rows.append(
            {
                "tier": tier,
                "share": w / total_w,
                "leads_per_week": w / total_w * data.leads_per_week,
                "conversion_rate": yw / w if w > 0 else np.nan,
                "share_of_conversions": yw / total_yw if total_yw > 0 else np.nan,
                "won_per_week": yw / total_w * data.leads_per_week,
                "mean_probability": float(
                    (data.weight * data.probability)[mask].sum() / w if w > 0 else np.nan
                ),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- targets


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
    feasible = np.flatnonzero(worst <= _TOLERANCE)
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
        met = bool(violation[row] <= _TOLERANCE)
        best_alone = best_threshold = None
        met_alone = False
        if not met:
            alone = np.flatnonzero(violation <= _TOLERANCE)
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
        "window_start": f"{data.window_start:%Y-%m-%d}",
        "window_end": f"{data.window_end:%Y-%m-%d}",
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


# --------------------------------------------------------------------------- report


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_threshold_tradeoffs(curve: pd.DataFrame, policy: TierPolicy) -> Figure:
    """Precision, recall (left) and leads per week (right) by threshold, cut-offs marked."""
    fig = _new_figure(8.0, 4.8)
    ax = fig.subplots()
    t = curve["threshold"].to_numpy()
    upper = float(max(np.quantile(t, 0.995), policy.sql_threshold * 1.15, 1e-6))
    ax.plot(t, curve["precision"], label="precision (conversion rate above)", linewidth=1.6)
    ax.plot(t, curve["recall"], label="recall (share of conversions above)", linewidth=1.6)
    ax.set(
        xlim=(0, min(1.0, upper)),
        ylim=(0, 1.02),
        xlabel="probability threshold",
        ylabel="precision / recall",
        title="What a threshold does: precision, recall and volume",
    )
    volume = ax.twinx()
    volume.plot(
        t, curve["leads_per_week"], color="#2ca02c", linewidth=1.6, label="leads per week above"
    )
    volume.set_ylabel("leads per week above the threshold")
    volume.set_ylim(0, float(curve["leads_per_week"].max()) * 1.05)
    for value, tier, style in ((policy.sql_threshold, SQL, "-"), (policy.mql_threshold, MQL, "--")):
        ax.axvline(value, color="#d62728", linestyle=style, linewidth=1.2)
        ax.annotate(
            f"{tier} {value:.3f}",
            (value, 1.0),
            textcoords="offset points",
            xytext=(4, -12),
            color="#d62728",
            fontsize=9,
        )
    lines = ax.get_lines()[:2] + volume.get_lines()
    ax.legend(
        lines,
        [str(line.get_label()) for line in lines],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=3,
        frameon=False,
    )
    ax.grid(True, color="0.9", linewidth=0.8)
    return fig


def plot_gains_with_cutoffs(data: EvaluationSet, policy: TierPolicy) -> Figure:
    """Cumulative gains of the model, with the SQL and MQL-or-better shares marked."""
    fig = plot_cumulative_gains({"model": (data.label, data.probability)})
    ax = fig.axes[0]
    tiers = assign_tier(data.probability, policy)
    sql_share = float((tiers == SQL).mean())
    mql_share = float(((tiers == SQL) | (tiers == MQL)).mean())
    for share, label, style in ((sql_share, SQL, "-"), (mql_share, f"{MQL} or above", "--")):
        ax.axvline(share, color="#d62728", linestyle=style, linewidth=1.1)
        ax.annotate(
            label,
            (share, 0.05),
            textcoords="offset points",
            xytext=(4, 0),
            color="#d62728",
            fontsize=9,
        )
    ax.axhline(0, color=REFERENCE_COLOR, linewidth=0.5)
    return fig


def threshold_report(
    data: EvaluationSet,
    curve: pd.DataFrame,
    choice: ThresholdChoice,
    policy: TierPolicy,
    model: str,
) -> list[ReportSection]:
    """The report page: targets and outcomes, tiers, trade-off plots, candidate thresholds."""
    outcome_lines = [f"- {o.describe()}" for o in choice.outcomes] or [
        "- no targets given: the current thresholds are shown"
    ]
    summary = (
        f"Model {model}; evaluated on {data.source} ({data.n_leads:,.0f} leads, overall "
        f"conversion {data.base_rate:.2%}). Lead inflow {data.leads_per_week:,.1f} per week "
        f"({data.inflow_source}).\n\n"
        f"**SQL threshold {policy.sql_threshold:.4f}, MQL threshold {policy.mql_threshold:.4f}.**"
        "\n\n" + "\n".join(outcome_lines)
    )
    if choice.notes:
        summary += "\n\n" + " ".join(choice.notes)
    return [
        ReportSection(
            heading="Chosen thresholds",
            text=summary,
            tables=[("Tiers with these thresholds", tier_figures(data, policy))],
        ),
        ReportSection(
            heading="Trade-offs",
            text=(
                "Every lead of the evaluation period counts once. Leads per week = inflow x "
                "share above the threshold; precision = conversion rate above it; recall = "
                "share of all conversions above it. Red lines: the chosen cut-offs."
            ),
            figures=[
                (
                    "Precision, recall and volume against the threshold",
                    plot_threshold_tradeoffs(curve, policy),
                ),
                ("Cumulative gains with the tiers marked", plot_gains_with_cutoffs(data, policy)),
                (
                    "Calibration: predicted against observed conversion",
                    plot_calibration({"model": (data.label, data.probability)}),
                ),
            ],
        ),
        ReportSection(
            heading="Candidate thresholds",
            text="Rows at round shares of leads; `chosen` marks the SQL and MQL cut-offs.",
            tables=[("Candidate thresholds", candidate_table(curve, choice))],
        ),
    ]


# --------------------------------------------------------------------------- MLflow edge


HOLDOUT_ARTIFACT = "report/holdout_predictions.parquet"


@dataclass(frozen=True)
class ModelVersionFacts:
    """A registered model version, its training run's parameters and its current policy."""

    name: str
    version: str
    run_id: str | None
    params: dict[str, str]
    current: TierPolicy


def model_version_facts(model_uri: str, client: Any) -> ModelVersionFacts:
    """Resolve `model_uri` to a registry version with its run parameters and served policy."""
    from ops.policy_store import PolicyStore, resolve_model_version

    name, version = resolve_model_version(model_uri, client)
    found = client.get_model_version(name, version)
    params = dict(client.get_run(found.run_id).data.params) if found.run_id else {}
    store = PolicyStore(name, client)
    current = store.served_policy(version, store.packaged_policy(version))
    return ModelVersionFacts(name, version, found.run_id, params, current)


def load_holdout_predictions(client: Any, run_id: str) -> pd.DataFrame:
    """The holdout predictions a training run stored with its report."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, HOLDOUT_ARTIFACT, tmp)
        return pd.read_parquet(Path(path))


@dataclass(frozen=True)
class ThresholdsResult:
    """What `leadscore thresholds` found, chose and (maybe) recorded."""

    facts: ModelVersionFacts
    data: EvaluationSet
    curve: pd.DataFrame
    choice: ThresholdChoice
    policy: TierPolicy
    report_html: str
    saved_version: str | None = None
    applied: bool = False
    caveats: tuple[str, ...] = ()


def refit_caveats(params: Mapping[str, str], data: EvaluationSet, on_holdout: bool) -> list[str]:
    """What to keep in mind when the served model is not the one the figures come from."""
    if str(params.get("refit", "False")).lower() != "true":
        return []
    if on_holdout and data.on_served_scale:
        return [
            "The served model was refitted on train + holdout leads after the evaluation: "
            "the thresholds are on its scale (each evaluated probability carried to the served "
            "model's score at the same share of holdout leads), so volumes follow the served "
            "model while precision and recall are the evaluated model's, out of sample."
        ]
    if on_holdout:
        return [
            "The served model was refitted on train + holdout leads after the evaluation; the "
            "holdout predictions are the evaluated model's, so the served model's volumes can "
            "differ (on the demo world by 10-20 %). For volumes from the served model use "
            "--data with the export it was trained on (its precision and recall are then "
            "in-sample, optimistic) or a later one, or train with --no-refit."
        ]
    trained_until = params.get("boundary_last_as_of")
    if trained_until and data.window_start < pd.Timestamp(trained_until):
        return [
            "The served model was refitted on leads up to "
            f"{trained_until}: this period overlaps its training data, so precision and recall "
            "are in-sample (optimistic). Use a later export for out-of-sample figures."
        ]
    return []


def calibrate_thresholds(
    model_uri: str,
    targets: ThresholdTargets,
    *,
    export: Export | None = None,
    as_of: pd.Timestamp | None = None,
    horizon_days: int | None = None,
    window_days: int | None = None,
    leads_per_week: float | None = None,
    reason: str = "",
    author: str | None = None,
    save: bool = True,
    apply: bool = False,
    client: Any | None = None,
) -> ThresholdsResult:
    """Evaluate thresholds for a registered model version; record (and apply) the chosen policy.

    Without `export` the model's own holdout is used; with it, the export's latest fully
    observed period scored by the model. A policy is recorded only when targets are given.
    """
    from mlflow import MlflowClient

    from models.pyfunc import load_scorer_from_uri
    from ops.policy_store import PolicyStore
    from training.report import render_report

    client = client or MlflowClient()
    facts = model_version_facts(model_uri, client)
    params = facts.params
    if export is None:
        if not facts.run_id:
            raise ValueError(f"{model_uri} has no training run with holdout predictions")
        data = holdout_evaluation_set(load_holdout_predictions(client, facts.run_id), params)
    else:
        scheme = SnapshotScheme(
            every_days=int(params.get("snapshot_every_days", 14)),
            max_snapshots=int(params.get("snapshot_max_per_lead", 8)),
        )
        scorer = load_scorer_from_uri(f"models:/{facts.name}/{facts.version}")
        data = export_evaluation_set(
            export,
            scorer,
            as_of,
            horizon_days or int(params.get("horizon_days", 90)),
            window_days or int(params.get("holdout_days", 120)),
            scheme,
        )
    if leads_per_week is not None:
        data = data.with_inflow(leads_per_week, "given with --leads-per-week")
    curve, choice, policy = choose_policy(data, targets, facts.current)
    caveats = refit_caveats(params, data, on_holdout=export is None)
    label = f"{facts.name} version {facts.version}"
    sections = threshold_report(data, curve, choice, policy, label)
    if caveats:
        sections[0] = replace(sections[0], text=sections[0].text + "\n\n" + " ".join(caveats))
    _, page = render_report(f"leadscore thresholds: {label}", sections)
    saved_version: str | None = None
    if save and targets.given():
        store = PolicyStore(facts.name, client)
        stored = store.save(
            facts.version,
            policy,
            targets=targets.given(),
            figures={
                **policy_figures(data, policy),
                "outcomes": [o.__dict__ for o in choice.outcomes],
                "notes": [*choice.notes, *caveats],
            },
            reason=reason,
            author=author,
            files={
                "thresholds.csv": curve.to_csv(index=False),
                "report.html": page,
            },
        )
        saved_version = stored.version
        policy = stored.policy
        if apply:
            store.apply(facts.version, stored.version, author)
    return ThresholdsResult(
        facts,
        data,
        curve,
        choice,
        policy,
        page,
        saved_version,
        apply and saved_version is not None,
        tuple(caveats),
    )

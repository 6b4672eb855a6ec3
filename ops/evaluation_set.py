"""The evaluation population of threshold planning: scored, labelled snapshots of one period.

The population is a labelled, fully observed period of lead snapshots: the model's own holdout
(stored with its training run) or a fresh export's latest fully observed period. Its curve says
what each threshold does to volume, precision and recall; ops/targets.py chooses on it.

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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.contract import Export
from features.history import LeadHistory
from models.tiers import TIERS, TierPolicy, assign_tier
from training.inflow import RECENT_INFLOW_DAYS, lead_inflow, recent_inflow
from training.labels import SnapshotScheme, build_snapshots, label_snapshots
from training.pipeline import LIGHTGBM, SERVED

if TYPE_CHECKING:
    from models.scorer import LeadScorer

DAY = pd.Timedelta(days=1)
RECENT_INFLOW_PARAM = "recent_leads_per_week"  # a training run parameter, when recorded
TOLERANCE = 1e-12  # shares and violations closer than this to a bound count as on it


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
    at = np.searchsorted(served_share, tie_share - TOLERANCE, side="left")
    mapped = np.empty_like(evaluated)
    mapped[by_evaluated] = served_desc[np.minimum(at, served_desc.size - 1)]
    return mapped


def holdout_evaluation_set(
    predictions: pd.DataFrame,
    params: Mapping[str, str],
    probability_column: str = LIGHTGBM,
    source: str = "the model's holdout",
    leads_per_week: float | None = None,
) -> EvaluationSet:
    """The training run's holdout predictions with the run's window and snapshot interval.

    When the run stored the served model's own holdout scores (column `served_model`) and they
    differ from the evaluated ones (a refit), the probabilities are carried to the served
    model's scale with `to_served_scale`. A single-table model without a datetime time column
    has no times (`as_of` all missing): its inflow must be given as `leads_per_week`.
    """
    frame = predictions.rename(columns={probability_column: "probability"})
    if frame["as_of"].isna().all():
        if leads_per_week is None:
            raise ValueError(
                "the model's holdout has no times (a single table without a datetime "
                "--time-column), so its lead inflow cannot be measured: give --leads-per-week"
            )
        return EvaluationSet(
            probability=frame["probability"].to_numpy(dtype=float),
            label=frame["label"].to_numpy(dtype=float),
            weight=np.ones(len(frame)),
            leads_per_week=float(leads_per_week),
            window_start=pd.Timestamp("NaT"),  # no times: no window
            window_end=pd.Timestamp("NaT"),
            source=source,
            inflow_source="given with --leads-per-week",
        )
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

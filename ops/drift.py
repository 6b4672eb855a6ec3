"""Drift: population stability index (PSI) of every feature and of the score.

PSI compares the distribution of a quantity in a reference population (the leads the model was
trained on) with a current one (recently scored leads):

    PSI = sum over bins of (current share - reference share) x ln(current share / reference share)

- Numeric features: `bins` bins at the reference's quantiles (fewer when values repeat, as with
  activity counts that are mostly zero), open-ended at both sides; missing values are a bin.
- Categorical features: one bin per reference category, one for categories the reference never
  saw, one for missing.
- Shares are smoothed by half a lead per bin, so an empty bin gives a large but finite PSI.
- Reading it (the usual rule of thumb): below 0.1 stable, 0.1-0.2 a moderate shift, above 0.2 a
  shift worth a look; `DEFAULT_PSI_FLAG` = 0.2 flags it. PSI grows with noise on small samples,
  so the current population's size is shown beside it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import Export
from features.history import LeadHistory
from models.scorer import LeadScorer
from training.labels import SnapshotScheme, build_snapshots

log = logging.getLogger(__name__)

DEFAULT_PSI_FLAG = 0.2
DEFAULT_BINS = 10
SCORE = "score"
SAMPLE_SIZE = 20_000
_SMOOTHING = 0.5
_MISSING = "(missing)"
_UNSEEN = "(unseen)"


def _psi_from_counts(reference: np.ndarray, current: np.ndarray) -> float:
    ref = (reference + _SMOOTHING) / (reference.sum() + _SMOOTHING * reference.size)
    cur = (current + _SMOOTHING) / (current.sum() + _SMOOTHING * current.size)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_numeric(
    reference: np.ndarray | pd.Series,
    current: np.ndarray | pd.Series,
    bins: int = DEFAULT_BINS,
) -> float:
    """PSI of a numeric quantity, bins at the reference's quantiles, missing as its own bin."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    ref_present, cur_present = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    inner = (
        np.unique(np.quantile(ref_present, np.linspace(0, 1, bins + 1)[1:-1]))
        if ref_present.size
        else np.zeros(0)
    )
    # side="right": a value equal to an edge goes above it, so a spike at 0 is its own bin.
    ref_counts = np.bincount(
        np.searchsorted(inner, ref_present, side="right"), minlength=inner.size + 1
    )
    cur_counts = np.bincount(
        np.searchsorted(inner, cur_present, side="right"), minlength=inner.size + 1
    )
    ref_counts = np.append(ref_counts, np.isnan(ref).sum())
    cur_counts = np.append(cur_counts, np.isnan(cur).sum())
    return _psi_from_counts(ref_counts.astype(float), cur_counts.astype(float))


def psi_categorical(reference: pd.Series, current: pd.Series) -> float:
    """PSI of a categorical quantity: reference categories, unseen ones, missing."""
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    ref = reference.astype(object).where(reference.notna(), _MISSING)
    cur = current.astype(object).where(current.notna(), _MISSING)
    levels = list(pd.unique(ref))
    cur = cur.where(cur.isin(levels), _UNSEEN)
    index = [*levels, _UNSEEN] if _UNSEEN not in levels else levels
    ref_counts = ref.value_counts().reindex(index, fill_value=0).to_numpy(dtype=float)
    cur_counts = cur.value_counts().reindex(index, fill_value=0).to_numpy(dtype=float)
    return _psi_from_counts(ref_counts, cur_counts)


@dataclass(frozen=True)
class DriftReport:
    """PSI per feature and for the score, with the flag threshold and the sample sizes."""

    table: pd.DataFrame  # quantity, kind, psi, flagged; sorted by psi, score first
    threshold: float
    n_reference: int
    n_current: int

    @property
    def score_psi(self) -> float:
        row = self.table[self.table["quantity"] == SCORE]
        return float(row["psi"].iloc[0]) if len(row) else float("nan")

    @property
    def flagged(self) -> list[str]:
        return self.table.loc[self.table["flagged"], "quantity"].tolist()


def population_stability(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    categorical: Sequence[str] = (),
    reference_score: np.ndarray | None = None,
    current_score: np.ndarray | None = None,
    threshold: float = DEFAULT_PSI_FLAG,
    bins: int = DEFAULT_BINS,
) -> DriftReport:
    """PSI of every column shared by the two frames (and of the score when given)."""
    rows = []
    if reference_score is not None and current_score is not None:
        rows.append(
            {
                "quantity": SCORE,
                "kind": "score",
                "psi": psi_numeric(reference_score, current_score, bins),
            }
        )
    categorical_set = set(categorical)
    for column in reference.columns:
        if column not in current.columns:
            continue
        is_categorical = column in categorical_set or not pd.api.types.is_numeric_dtype(
            reference[column]
        )
        value = (
            psi_categorical(reference[column], current[column])
            if is_categorical
            else psi_numeric(
                reference[column].to_numpy(dtype=float), current[column].to_numpy(dtype=float), bins
            )
        )
        rows.append(
            {
                "quantity": column,
                "kind": "categorical" if is_categorical else "numeric",
                "psi": value,
            }
        )
    table = pd.DataFrame(rows, columns=["quantity", "kind", "psi"])
    table["flagged"] = table["psi"] > threshold
    is_score = table["quantity"] == SCORE
    table = pd.concat(
        [table[is_score], table[~is_score].sort_values("psi", ascending=False)], ignore_index=True
    )
    return DriftReport(table, threshold, len(reference), len(current))


def training_population(
    export: Export, params: Mapping[str, str], sample_size: int = SAMPLE_SIZE, seed: int = 0
) -> pd.DataFrame:
    """(lead_id, as_of) snapshots of the model's training cohort, rebuilt from an export.

    Uses the training run's parameters: snapshot scheme, last snapshot date and the start of
    the validation cohort (leads created before it were trained on).
    """
    scheme = SnapshotScheme(
        every_days=int(params.get("snapshot_every_days", 14)),
        max_snapshots=int(params.get("snapshot_max_per_lead", 8)),
    )
    last_as_of = pd.Timestamp(params["boundary_last_as_of"])
    validation_start = pd.Timestamp(params["boundary_validation_start"])
    snapshots = build_snapshots(export, last_as_of, scheme)
    snapshots = snapshots[snapshots["created_at"] < validation_start]
    if len(snapshots) > sample_size:
        snapshots = snapshots.sample(sample_size, random_state=seed)
    return snapshots[["lead_id", "as_of"]].reset_index(drop=True)


def recent_population(
    predictions: pd.DataFrame, export: Export, sample_size: int = SAMPLE_SIZE, seed: int = 0
) -> pd.DataFrame:
    """Distinct logged (lead_id, as_of, probability) of leads the export knows, sampled."""
    known = predictions[predictions["lead_id"].isin(export.leads["lead_id"])]
    recent = known.drop_duplicates(["lead_id", "as_of"])[["lead_id", "as_of", "probability"]]
    if len(recent) > sample_size:
        recent = recent.sample(sample_size, random_state=seed)
    return recent.reset_index(drop=True)


def feature_drift(
    scorer: LeadScorer,
    export: Export,
    params: Mapping[str, str],
    predictions: pd.DataFrame,
    threshold: float = DEFAULT_PSI_FLAG,
    sample_size: int = SAMPLE_SIZE,
) -> DriftReport:
    """PSI of every model feature and of the score: training cohort vs recently scored leads.

    Features of both populations are rebuilt point-in-time from `export` (a later export holds
    the history of both); the current score is the probability the service logged.
    """
    reference = training_population(export, params, sample_size)
    recent = recent_population(predictions, export, sample_size)
    if recent.empty:
        raise ValueError("none of the logged leads are in the export")
    x_ref = scorer.features(LeadHistory(export.leads, export.activities, reference))
    x_cur = scorer.features(
        LeadHistory(export.leads, export.activities, recent[["lead_id", "as_of"]])
    )
    ref_score = scorer.model.predict_proba(x_ref)[:, 1]
    return population_stability(
        x_ref,
        x_cur,
        categorical=scorer.featurizer.categorical_features_,
        reference_score=ref_score,
        current_score=recent["probability"].to_numpy(),
        threshold=threshold,
    )


def metric_name(quantity: str) -> str:
    """An MLflow-safe metric name for a quantity's PSI."""
    return "drift_psi_" + re.sub(r"[^A-Za-z0-9_\-./ ]", "_", quantity)


def drift_metrics(report: DriftReport) -> dict[str, float]:
    """PSI per quantity and the number flagged, as MLflow metrics (NaN left out)."""
    metrics = {
        metric_name(q): float(v)
        for q, v in zip(report.table["quantity"], report.table["psi"], strict=True)
        if v == v
    }
    metrics["drift_flagged"] = float(len(report.flagged))
    return metrics

"""Training on a single table: one row per lead with an outcome column.

Many teams cannot export leads, activities and opportunities; they have one table with a
converted/won column. This trains the same calibrated LightGBM (`ConversionModel`) and logistic
baseline as the main pipeline, evaluates both on the same holdout, and builds the
`TableScorer` that is registered and served (reading the table, its labels and cohorts:
`training/table_input.py`; the MLflow run, registration and gate: `training/table_run.py`).

- Label: binary, written as 0/1, yes/no, true/false, won/lost (y/n, t/f, win/loss, closed won /
  closed lost). Rows without a label are left out and counted.
- Excluded from the features: the label, the ``drop`` columns (fields filled in after contact),
  the time column, and automatically empty, id-like and timestamp columns
  (`features.tabular.screen_columns`); all are reported with the reason.
- Split: with a time column (or ``row_order_is_time``) rows are ordered by it and cut into
  train (earliest), validation (next) and holdout (latest); rows sharing a timestamp stay in one
  cohort. Without, a stratified random split holds out 20 % and validates on 15 %. LightGBM
  early-stops and is calibrated on validation; both models are fitted on train only, as in the
  main pipeline.
- Points-based lead score: not trained here; a single table has no activities to give points to.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.tabular import (
    NAMED_LIKE_ID,
    UNIQUE_STRINGS,
    TabularFeaturizer,
)
from models.baselines import logistic_baseline, to_object_categoricals
from models.conversion import ConversionModel
from models.table_scorer import TableScorer
from models.tiers import TierPolicy
from training.evaluate import ModelEvaluation, compare_table, evaluate_model
from training.pipeline import LIGHTGBM, LOGISTIC
from training.table_input import (
    COHORTS,
    LABEL,
    TableConfig,
    TableError,
    check_cohorts,
    prepare_table,
    read_table,
    split_cohorts,
)

log = logging.getLogger(__name__)
MODELS = (LIGHTGBM, LOGISTIC)
_PARAM_CHARS = 500  # MLflow params are short strings
LEAK_AUC = 0.9
IMPORTANCE_ROWS = 2_000


@dataclass
class SingleTableResult:
    """What a single-table run produced: fitted models, evaluations, holdout predictions."""

    config: TableConfig
    source: Path | None
    featurizer: TabularFeaturizer
    model: ConversionModel
    logistic: Pipeline
    evaluations: dict[str, ModelEvaluation]
    holdout: pd.DataFrame  # row, label, one probability column per model (+ time, segments)
    importance: pd.Series  # mean |SHAP| per feature, LightGBM, largest first
    excluded: dict[str, str]  # column -> why it is not a feature
    label_values: dict[str, int]  # raw label value -> 0/1
    counts: dict[str, int]  # rows_<cohort>, positives_<cohort>, rows_unlabelled
    boundaries: dict[str, str]  # first time key of validation and holdout (time split)
    suspected_leaks: dict[str, float]  # feature -> validation AUC on its own
    timings: dict[str, float]
    best_iteration: int
    calibration: dict[str, Any]
    table: pd.DataFrame  # the rows used: feature columns as read, label, cohort
    scorer: TableScorer  # what is registered and served: the evaluated model, no refit
    rows_as_read: pd.DataFrame  # the labelled rows with every column as read, like `table`
    time_key: np.ndarray | None  # per labelled row (time split), else None
    time_kind: str | None

    @property
    def comparison(self) -> pd.DataFrame:
        return compare_table([self.evaluations[m] for m in MODELS])


# --------------------------------------------------------------------------- training


def _rate_encoded(train: pd.Series, y_train: np.ndarray, other: pd.Series) -> np.ndarray:
    """`other` encoded by the train conversion rate of its level (numbers by quantile bin)."""
    prior = float(y_train.mean())
    if isinstance(train.dtype, pd.CategoricalDtype):
        train_key = train.cat.codes.to_numpy()
        other_key = other.cat.codes.to_numpy()
    else:
        values = train.to_numpy(dtype=float)
        finite = values[~np.isnan(values)]
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, 21))) if finite.size else None
        bins = edges[1:-1] if edges is not None and edges.size > 2 else np.array([], dtype=float)

        def key(values: pd.Series) -> np.ndarray:
            array = values.to_numpy(dtype=float)
            return np.where(np.isnan(array), -1, np.searchsorted(bins, array, side="right"))

        train_key, other_key = key(train), key(other)
    rates = (
        pd.DataFrame({"key": train_key, "y": y_train})
        .groupby("key")["y"]
        .agg(lambda s: (s.sum() + 10 * prior) / (s.size + 10))
    )
    return pd.Series(other_key).map(rates).fillna(prior).to_numpy(dtype=float)


def suspected_leaks(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    threshold: float = LEAK_AUC,
) -> dict[str, float]:
    """Features that alone separate the outcomes on validation (AUC >= threshold), best first.

    A single pre-contact field rarely does; one that does is usually filled in after contact.
    """
    from sklearn.metrics import roc_auc_score

    found: dict[str, float] = {}
    for column in X_train.columns:
        encoded = _rate_encoded(X_train[column], y_train, X_val[column])
        auc = float(roc_auc_score(y_val, encoded)) if np.ptp(encoded) > 0 else 0.5
        if auc >= threshold:
            found[str(column)] = auc
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def train_table(
    table: pd.DataFrame,
    config: TableConfig,
    cohorts: np.ndarray | None = None,
    source: Path | None = None,
) -> SingleTableResult:
    """Fit LightGBM and the logistic baseline on one table; evaluate both on the holdout.

    `cohorts` ("train"/"validation"/"holdout" per labelled row, in table order) overrides the
    split, e.g. for cross-validation.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    prepared = prepare_table(table, config)
    boundaries: dict[str, str] = {}
    if cohorts is None:
        cohorts, boundaries = split_cohorts(prepared, config)
    cohorts = np.asarray(cohorts, dtype=object)
    if cohorts.shape != prepared.labels.shape:
        raise ValueError(f"cohorts has {cohorts.size} rows; {prepared.labels.size} are labelled")
    counts = {**check_cohorts(prepared.labels, cohorts), "rows_unlabelled": prepared.n_unlabelled}
    train_mask, val_mask, hold_mask = (cohorts == name for name in COHORTS)
    y = prepared.labels

    featurizer = TabularFeaturizer(
        missing_values=config.missing_values,
        min_category_count=config.min_category_count,
        max_category_levels=config.max_category_levels,
    ).fit(prepared.features[train_mask])
    X = featurizer.transform(prepared.features)
    timings["features_s"] = time.perf_counter() - clock
    if X.shape[1] == 0:
        raise TableError("no feature columns are left after the exclusions")

    clock = time.perf_counter()
    model = ConversionModel(random_state=config.seed, **dict(config.model)).fit(
        X[train_mask], y[train_mask], X[val_mask], y[val_mask]
    )
    timings["lightgbm_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    categorical = list(featurizer.categorical_features_)
    numeric = list(featurizer.numeric_features_)
    X_obj = to_object_categoricals(X, categorical)
    logistic = logistic_baseline(categorical, numeric).fit(X_obj[train_mask], y[train_mask])
    timings["logistic_s"] = time.perf_counter() - clock

    holdout = pd.DataFrame({"row": prepared.rows[hold_mask], "label": y[hold_mask]})
    if prepared.time_key is not None:
        holdout["time_key"] = prepared.time_key[hold_mask]
    holdout[LIGHTGBM] = model.predict_proba(X[hold_mask])[:, 1]
    holdout[LOGISTIC] = logistic.predict_proba(X_obj[hold_mask])[:, 1]
    segments = prepared.segments.loc[hold_mask].reset_index(drop=True)
    for column in segments.columns:
        holdout[column] = segments[column].astype(object).to_numpy()

    clock = time.perf_counter()
    evaluations = {
        name: evaluate_model(
            name,
            holdout["label"],
            holdout[name],
            segments=segments if len(segments.columns) else None,
            n_bootstrap=config.n_bootstrap,
            seed=config.seed,
        )
        for name in MODELS
    }
    timings["evaluation_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    X_hold = X[hold_mask]
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(len(X_hold), size=min(IMPORTANCE_ROWS, len(X_hold)), replace=False))
    contrib = model.contributions(X_hold.iloc[sample]).to_numpy()[:, :-1]
    importance = pd.Series(np.abs(contrib).mean(axis=0), index=X.columns).sort_values(
        ascending=False
    )
    leaks = suspected_leaks(X[train_mask], y[train_mask], X[val_mask], y[val_mask])
    for feature, auc in leaks.items():
        log.warning(
            "feature %r alone has validation AUC %.3f: is it filled in after contact? "
            "(--drop it if so)",
            featurizer.source_columns_[feature],
            auc,
        )
    timings["diagnostics_s"] = time.perf_counter() - clock

    used = prepared.features.copy()
    used[LABEL] = y
    used["cohort"] = cohorts
    ids = [c for c, why in prepared.excluded.items() if why in (UNIQUE_STRINGS, NAMED_LIKE_ID)]
    scorer = TableScorer(
        featurizer,
        model,
        TierPolicy.from_shares(holdout[LIGHTGBM].to_numpy(), config.sql_share, config.mql_share),
        model.predict_proba(X)[:, 1],
        id_column=ids[0] if ids else None,
    )
    return SingleTableResult(
        config=config,
        source=source,
        featurizer=featurizer,
        model=model,
        logistic=logistic,
        evaluations=evaluations,
        holdout=holdout,
        importance=importance,
        excluded=prepared.excluded,
        label_values=prepared.label_values,
        counts=counts,
        boundaries=boundaries,
        suspected_leaks={featurizer.source_columns_[k]: v for k, v in leaks.items()},
        timings=timings,
        best_iteration=model.best_iteration_,
        calibration={
            "method": model.calibrator_.method_,
            **{f"cv_log_loss_{k}": v for k, v in model.calibrator_.cv_log_loss_.items()},
        },
        table=used,
        scorer=scorer,
        rows_as_read=table.rename(columns=str).iloc[prepared.rows].reset_index(drop=True),
        time_key=prepared.time_key,
        time_kind=prepared.time_kind,
    )


def train_single_table(path: Path, config: TableConfig) -> SingleTableResult:
    """Read a .csv/.parquet table and train on it (see :func:`train_table`)."""
    path = Path(path)
    return train_table(read_table(path), config, source=path)

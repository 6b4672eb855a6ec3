"""The served model refitted on every cohort: its features, trees, calibration folds and level.

After the honest holdout evaluation (`training.pipeline`), the served model is regrown on train
and holdout with the early-stopped round count and a vocabulary of every cohort: the newest
leads are the most like the ones it will score. Its calibrator is then fitted on cross-fitted
scores of models grown like it (`calibration_folds` folds of whole leads), and its level set on
the newest snapshots (`training.level`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.build import LeadFeaturizer, LeadHistory
from features.contract import Export
from features.partition import PartitionMap, transform_partitioned
from models.conversion import ConversionModel
from models.memory import give_back
from models.refit import refit_all
from training.calibration_set import calibration_set, fold_count, level_on_newest
from training.intent import add_intent_features
from training.labels import TrainingExamples, lead_phases
from training.level import LevelSnapshots, followed_wins, level_snapshots, level_standard_error
from training.sampling import TrainingRows, leads_kept

if TYPE_CHECKING:
    from training.pipeline import TrainConfig

log = logging.getLogger(__name__)

# The calibration folds of a sampled run (millions of leads): two instead of three. Each fold
# model then learns from half the fitting rows instead of two thirds, at a 1M-lead world still
# more than the whole of a 200k-lead world's, and the refit grows 2 instead of 3 models' worth of
# trees besides the served one: the trees are most of a big run's time (docs/benchmarks.md).
SAMPLED_CALIBRATION_FOLDS = 2
# Fewer observed wins than this in the level window leave the calibrator's level as fitted:
# a level read from a handful of wins would be noise.
MIN_LEVEL_WINS = 20


def lead_folds(lead_ids: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A stable fold 0..k-1 per row, the same for every row of a lead."""
    uniques, inverse = np.unique(lead_ids, return_inverse=True)
    phase = lead_phases(pd.Series(uniques), seed + 1)
    return np.minimum((phase * k).astype(np.int64), k - 1)[inverse]


def newest_level(
    export: Export, examples: TrainingExamples, config: TrainConfig, kept: float = 1.0
) -> LevelSnapshots | None:
    """The snapshots the served model's level is set on, or None when it is not set; of the
    `kept` share of leads the evaluation cohorts keep (`training.sampling.leads_kept`): the
    wins observed and the exposure the level compares shrink alike."""
    if config.level_days is None:
        return None
    level = level_snapshots(
        export, examples, config.scheme, config.level_days, config.level_observed_days
    )
    if kept >= 1.0:
        return level
    chosen = leads_kept(level.snapshots["lead_id"], kept, config.seed)
    return replace(
        level,
        snapshots=level.snapshots[chosen].reset_index(drop=True),
        observed=level.observed[chosen],
        exposure=level.exposure[chosen],
    )


def set_level(
    model: ConversionModel,
    level: LevelSnapshots,
    raw: np.ndarray,
    labelled: pd.DataFrame | None = None,
    followed: bool = False,
) -> float | None:
    """Shift the served model's calibrated level to the wins observed in the level window, or
    with `followed` to the level followed to the newest snapshots over the calibration rows
    (`labelled`, with their outcomes) and the window (`training.level.followed_wins`).

    Returns the standard error of the window's own level (log-odds), None when none was set."""
    wins = int(level.observed.sum())
    if wins < MIN_LEVEL_WINS:
        log.warning(
            "calibration level kept: %d wins observed in the level window (at least %d needed)",
            wins,
            MIN_LEVEL_WINS,
        )
        return None
    p = model.calibrator_.predict(raw)
    target = followed_wins(level, p, labelled) if followed else wins
    try:
        model.calibrator_.set_level(raw, target, level.exposure)
    except ValueError as error:
        log.warning("calibration level kept: %s", error)
        return None
    leads = level.snapshots["lead_id"].to_numpy()
    standard_error = level_standard_error(leads, level.observed, level.exposure * p)
    log.info("level window: standard error of its level %.3f log-odds", standard_error)
    return standard_error


@dataclass
class Refit:
    """The served model, the featurizer and feature frame it reads, and how it was calibrated."""

    featurizer: LeadFeaturizer
    X: pd.DataFrame
    model: ConversionModel
    n_folds: int
    level_error: float | None


def refit_served(
    export: Export,
    examples: TrainingExamples,
    config: TrainConfig,
    rows: TrainingRows,
    history: LeadHistory,
    featurizer: LeadFeaturizer,
    map_partitions: PartitionMap,
    kept_evaluation: float,
) -> Refit:
    """Refit the conversion model on every cohort but validation (early-stopped and
    calibrated on validation), then regrow it on all of them, calibrate it on its own
    cross-fitted scores and set its level. The caller drops the evaluation's feature frame
    first: one set of features at a time. `featurizer` (unfitted) is fitted on every cohort's
    periodic snapshots."""
    table = rows.table
    cohort = table["cohort"].to_numpy()
    periodic = table["periodic"].to_numpy()
    y = table["label"].to_numpy()
    lead_ids = table["lead_id"].to_numpy()
    val_mask = periodic & (cohort == "validation")
    w_all = rows.weights(np.ones(len(table), dtype=bool))
    fit_rows = np.flatnonzero(cohort != "validation")
    featurizer = featurizer.fit(
        LeadHistory(export.leads, export.activities, table.loc[periodic, ["lead_id", "as_of"]])
    )
    log.info("refit on every cohort: building features again with its vocabulary")
    X = transform_partitioned(featurizer, history, map_partitions=map_partitions)
    give_back()
    if config.intent_features:
        X = add_intent_features(featurizer, X, y, w_all, fit_rows)
    log.info("refit on every cohort: fitting the conversion model")
    model = ConversionModel(random_state=config.seed, **config.model).fit(
        X,
        y,
        X[val_mask],
        y[val_mask],
        groups_val=lead_ids[val_mask],
        sample_weight=w_all,
        rows=fit_rows,
    )
    give_back()
    level = newest_level(export, examples, config, kept_evaluation)
    X_level = (
        transform_partitioned(
            featurizer,
            LeadHistory(export.leads, export.activities, level.snapshots),
            map_partitions=map_partitions,
        )
        if level is not None
        else None
    )
    n_folds = fold_count(config.calibration_folds, rows)
    if rows.sampled:
        n_folds = min(n_folds, SAMPLED_CALIBRATION_FOLDS)
    if n_folds > 1:
        chosen = calibration_set(
            rows,
            examples.boundaries["last_as_of"],
            config.calibration_days,
            config.calibration_won_leads,
        )
        calibrate = chosen.rows
        folds = lead_folds(lead_ids, n_folds, config.seed)
        # The calibration rows by position: no copy of their features.
        targets: list[tuple[pd.DataFrame, np.ndarray | None, np.ndarray]] = [
            (X, np.flatnonzero(calibrate), folds[calibrate])
        ]
        if level is not None and X_level is not None:
            level_leads = level.snapshots["lead_id"].to_numpy()
            targets.append((X_level, None, lead_folds(level_leads, n_folds, config.seed)))
    else:
        folds, targets = None, []
    # The served model and, with folds, the models that score each fold out of fold.
    log.info("refit on every cohort: the served model and the calibration folds")
    raws = refit_all(model, X, y, w_all, folds, targets)
    give_back()
    labelled = None
    if n_folds > 1:
        model.recalibrate(raws[0], y[calibrate], lead_ids[calibrate])
        level_on_newest(model.calibrator_, raws[0], y[calibrate], chosen.newest)
        labelled = table.loc[calibrate, ["lead_id", "as_of"]].assign(
            label=y[calibrate], p=model.calibrator_.predict(raws[0])
        )
    level_error: float | None = None
    if level is not None and X_level is not None:
        # Out-of-fold scores where there are folds, else the served model's own.
        raw_level = raws[1] if n_folds > 1 else model.predict_raw(X_level)
        level_error = set_level(model, level, raw_level, labelled, config.level_followed)
    return Refit(featurizer, X, model, n_folds, level_error)

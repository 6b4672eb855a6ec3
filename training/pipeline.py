"""One training run: examples, features, model and baselines, holdout evaluation, scorer."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.build import LeadFeaturizer, LeadHistory
from features.contract import Export
from features.partition import PartitionMap, transform_partitioned
from models.baselines import (
    LOGISTIC_FIT_ROWS,
    PointsLeadScore,
    logistic_baseline,
    to_object_categoricals,
)
from models.conversion import ConversionModel
from models.linear_rows import linear_fit_rows
from models.memory import give_back
from models.reason_index import typical_reasons
from models.scorer import LeadScorer, ReferenceScores, group_contributions, plan_reasons
from models.tiers import TierPolicy
from training.evaluate import ModelEvaluation, evaluate_predictions, evaluate_segments
from training.intent import add_intent_features
from training.labels import (
    SnapshotScheme,
    SplitConfig,
    TrainingExamples,
    build_training_examples,
)
from training.metrics import decile_table
from training.refit_served import refit_served
from training.sampling import (
    MAX_EVALUATION_ROWS,
    MAX_FIT_ROWS,
    evaluation_share,
    negative_share,
    training_rows,
    weighted_resample,
)

log = logging.getLogger(__name__)

LIGHTGBM = "lightgbm"
POINTS = "points_score"
LOGISTIC = "logistic_regression"
# The served model's holdout probabilities: the evaluated LightGBM's without a refit, else the
# refitted model's (in-sample there). Thresholds are carried to its scale by share of leads.
SERVED = "served_model"
SEGMENT_COLUMNS = ("source", "country")
BASELINE_CATEGORICALS = "categorical"
BASELINE_FEATURIZER = "featurizer"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run does."""

    horizon_days: int = 90
    as_of: pd.Timestamp | None = None
    scheme: SnapshotScheme = field(default_factory=SnapshotScheme)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: dict[str, Any] = field(default_factory=dict)
    sql_share: float = 0.05
    mql_share: float = 0.15
    n_bootstrap: int = 200
    reference_size: int = 5_000
    seed: int = 0
    # After the honest holdout evaluation, refit the served model on every cohort: trees are
    # early-stopped and calibrated on validation while fitted on train + holdout, then regrown
    # on all leads with that round count. The newest leads are the most like the ones it will
    # score.
    refit: bool = True
    # The served (refitted) model's calibrator is fitted for its own scores: on cross-fitted
    # scores of models grown like it (`calibration_folds` folds of whole leads; None: by the
    # export's size, `training.calibration_set`), over the periodic snapshots of leads created in
    # the `calibration_days` before the last labelled as_of (None: every cohort) and of older
    # leads until they hold `calibration_won_leads` won leads; its level is set on the former.
    # 0 keeps the calibrator fitted on validation for the first refit.
    calibration_folds: int | None = None
    calibration_days: int | None = 180
    calibration_won_leads: int = 2_000
    # Then its level follows the newest snapshots (training/level.py): those with as_of in the
    # `level_days` ending `level_observed_days` before the cut-off, each outcome as observed by
    # the cut-off and weighed by the share of the horizon its window can show. None: no level.
    level_days: int | None = 60
    level_observed_days: int = 30
    # The level followed over 30-day periods of the calibration rows and the window by a
    # local-level model (`training.level.followed_wins`); False: read from the window alone.
    # Less noise where the base rate holds, more lag where it trends; over two seeds of the
    # family its worst world is the better one (docs/benchmarks.md, docs/modeling.md).
    level_followed: bool = True
    # The pooled buying-intent features in place of the per-type shares (features/intent.py;
    # opt-in: docs/benchmarks.md, "Pooled buying intent").
    intent_features: bool = False
    # Sampling of big exports (`training.sampling`): above `max_evaluation_rows` validation and
    # holdout periodic snapshots, a share of those leads; then, above `max_fit_rows` rows in
    # the largest fit, a share of the negative train and activity snapshots (`negative_share`
    # sets that share outright). None: no budget. Every world of the quality benchmarks stays
    # below both (nothing sampled); at 12,000 leads a share of 0.25 moved the drifting world's
    # log loss beyond its interval, so the budgets are sized for millions of leads
    # (docs/benchmarks.md).
    negative_share: float | None = None
    max_fit_rows: int | None = MAX_FIT_ROWS
    max_evaluation_rows: int | None = MAX_EVALUATION_ROWS

    def __post_init__(self) -> None:
        if self.level_days is not None and (
            self.level_days < 1 or not 0 < self.level_observed_days <= self.horizon_days
        ):
            raise ValueError(
                "level_days must be at least 1 and level_observed_days in (0, horizon_days]"
            )


@dataclass
class TrainingResult:
    """What a run produced: the scorer, the evaluations and the holdout predictions."""

    config: TrainConfig
    examples: TrainingExamples
    scorer: LeadScorer
    evaluations: dict[str, ModelEvaluation]
    holdout: pd.DataFrame  # lead_id, as_of, label, one probability column per model, segments
    importance: pd.Series
    timings: dict[str, float]
    best_iteration: int
    calibration: dict[str, Any]
    # The fitted baselines by name, plus BASELINE_FEATURIZER (the train-cohort featurizer they
    # read, which differs from the served scorer's after a refit) and BASELINE_CATEGORICALS: the
    # categorical feature names
    # that `to_object_categoricals` needs before the logistic model can predict.
    baselines: dict[str, object] = field(default_factory=dict)
    # The share of sampleable negatives the fits read, and of validation and holdout leads
    # kept (1.0: every row, all weights 1; `training.sampling`).
    negative_share: float = 1.0
    evaluation_share: float = 1.0


def _done(timings: dict[str, float], stage: str, clock: float) -> None:
    """Record a stage's seconds (logged at DEBUG: INFO messages name the stage a run is in)."""
    timings[stage] = time.perf_counter() - clock
    log.debug("%s: %.1f s", stage, timings[stage])


def _featurizer(config: TrainConfig) -> LeadFeaturizer:
    return LeadFeaturizer(share_half_lives_days=()) if config.intent_features else LeadFeaturizer()


def train(
    export: Export, config: TrainConfig | None = None, map_partitions: PartitionMap = map
) -> TrainingResult:
    """Fit the conversion model and baselines, evaluate all on the same later holdout.

    Features are built per partition of leads through `map_partitions` (in process, or on a
    Dask cluster's workers: `training.cluster`); everything else runs here. Features are built
    once for every row a fit or an evaluation reads (`training.sampling`): the periodic
    snapshots, then the activity snapshots, which only ever add fitting rows.
    """
    config = config or TrainConfig()
    if config.as_of is not None and config.as_of < export.cutoff:
        # Point in time, rows included: which activities get a snapshot hangs on counts per
        # activity type, which later activities would change; later outcomes likewise.
        export = export.known_at(config.as_of)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    examples = build_training_examples(
        export, config.horizon_days, config.as_of, config.scheme, config.split
    )
    kept_evaluation = evaluation_share(examples, config.max_evaluation_rows)
    share = negative_share(examples, config.max_fit_rows, config.negative_share, kept_evaluation)
    rows = training_rows(examples, share, config.seed, kept_evaluation)
    if rows.sampled:
        log.info(
            "sampled: %.3f of validation and holdout leads, %.3f of train and activity "
            "negatives: %d rows of %d",
            kept_evaluation,
            share,
            len(rows.table),
            len(examples.snapshots) + len(examples.activity_snapshots),
        )
    table = rows.table
    _done(timings, "snapshots_s", clock)

    clock = time.perf_counter()
    cohort = table["cohort"].to_numpy()
    periodic = table["periodic"].to_numpy()
    y = table["label"].to_numpy()
    lead_ids = table["lead_id"].to_numpy()
    train_mask = cohort == "train"
    val_mask = periodic & (cohort == "validation")
    hold_mask = periodic & (cohort == "holdout")
    history = LeadHistory(export.leads, export.activities, table[["lead_id", "as_of"]])
    featurizer = _featurizer(config).fit(
        LeadHistory(
            export.leads, export.activities, table.loc[periodic & train_mask, ["lead_id", "as_of"]]
        )
    )
    log.info("building features of %s snapshots", f"{len(table):,}")
    X = transform_partitioned(featurizer, history, map_partitions=map_partitions)
    every_row = np.ones(len(X), dtype=bool)
    w_all = rows.weights(every_row)
    train_rows = np.flatnonzero(train_mask)
    if config.intent_features:
        X = add_intent_features(featurizer, X, y, w_all, train_rows)
    give_back()  # each stage's freed blocks go back before the next stage allocates
    _done(timings, "features_s", clock)

    clock = time.perf_counter()
    # Fits read their rows of X by position: no copy of the fitting rows' features. The
    # baselines first: the logistic one's design (sklearn stacks its parts into one more
    # copy) is this stage's largest allocation, best made before LightGBM's state exists.
    categorical = list(featurizer.categorical_features_)
    numeric = [c for c in X.columns if c not in categorical]
    # The baselines learn from the same rows as the model they are compared with (the
    # logistic one from a bounded sample of them, `LOGISTIC_FIT_ROWS`).
    y_fit, w_fit = y[train_mask], rows.weights(train_mask)
    log.info("fitting the baselines on %s train snapshots", f"{len(train_rows):,}")
    points = PointsLeadScore(feature_info=featurizer.feature_info_).fit(
        X, y_fit, w_fit, rows=train_rows
    )
    sample = linear_fit_rows(len(train_rows), config.seed, LOGISTIC_FIT_ROWS)
    logistic = logistic_baseline(categorical, numeric).fit(
        to_object_categoricals(X.iloc[train_rows[sample]], categorical),
        y_fit[sample],
        model__sample_weight=None if w_fit is None else w_fit[sample],
    )
    del y_fit
    give_back()
    _done(timings, "baselines_s", clock)

    clock = time.perf_counter()
    log.info("fitting the conversion model on %s train snapshots", f"{len(train_rows):,}")
    model = ConversionModel(random_state=config.seed, **config.model).fit(
        X,
        y,
        X[val_mask],
        y[val_mask],
        groups_val=lead_ids[val_mask],
        sample_weight=w_all,
        rows=train_rows,
    )
    give_back()
    _done(timings, "lightgbm_s", clock)

    log.info("evaluating the models on %s holdout snapshots", f"{int(hold_mask.sum()):,}")
    X_hold = X[hold_mask]
    holdout = table.loc[hold_mask, ["lead_id", "as_of", "age_days", "label"]].reset_index(drop=True)
    holdout[LIGHTGBM] = model.predict_proba(X_hold)[:, 1]
    holdout[POINTS] = points.predict_proba(X_hold)[:, 1]
    holdout[LOGISTIC] = logistic.predict_proba(to_object_categoricals(X_hold, categorical))[:, 1]
    del X_hold
    lead_segments = export.leads.set_index("lead_id")
    for column in SEGMENT_COLUMNS:
        holdout[column] = holdout["lead_id"].map(lead_segments[column]).astype(object)

    clock = time.perf_counter()
    evaluations = {
        name: ModelEvaluation(
            name=name,
            metrics=evaluate_predictions(
                holdout["label"], holdout[name], n_bootstrap=config.n_bootstrap, seed=config.seed
            ),
            deciles=decile_table(holdout["label"].to_numpy(), holdout[name].to_numpy()),
            segments={
                column: evaluate_segments(
                    holdout["label"], holdout[name], holdout[column].fillna("(missing)")
                )
                for column in SEGMENT_COLUMNS
            },
        )
        for name in (LIGHTGBM, POINTS, LOGISTIC)
    }
    _done(timings, "evaluation_s", clock)

    clock = time.perf_counter()
    evaluation_featurizer = featurizer
    level_error: float | None = None
    n_folds = 0
    if config.refit:
        # The evaluation features are dropped before the refit's are built: one set at a time.
        del X
        refitted = refit_served(
            export,
            examples,
            config,
            rows,
            history,
            _featurizer(config),
            map_partitions,
            kept_evaluation,
        )
        featurizer, X, model = refitted.featurizer, refitted.X, refitted.model
        n_folds, level_error = refitted.n_folds, refitted.level_error
        holdout[SERVED] = model.predict_proba(X, np.flatnonzero(hold_mask))[:, 1]
    else:
        holdout[SERVED] = holdout[LIGHTGBM]
    # The packed policy's shares hold for the model that is served, refitted or not.
    policy = TierPolicy.from_shares(holdout[SERVED].to_numpy(), config.sql_share, config.mql_share)
    _done(timings, "refit_s", clock)

    clock = time.perf_counter()
    log.info("scoring reference leads for percentiles and typical reasons")
    # The reference distributions describe periodic snapshots as they come: weighted back to
    # their numbers when negatives were sampled.
    periodic_rows = np.flatnonzero(periodic)
    w_periodic = rows.weights(periodic)
    rng = np.random.default_rng(config.seed)
    n_periodic = len(periodic_rows)
    size = min(config.reference_size, n_periodic)
    if w_periodic is None:
        sample = rng.choice(n_periodic, size=size, replace=False)
    else:
        sample = rng.choice(n_periodic, size=size, replace=False, p=w_periodic / w_periodic.sum())
    all_probabilities = weighted_resample(
        model.predict_proba(X, periodic_rows)[:, 1], w_periodic, config.seed
    )
    X_sample = X.iloc[periodic_rows[np.sort(sample)]]
    contrib = model.contributions(X_sample).to_numpy()[:, :-1]
    reason_columns = {name: X_sample[name].to_numpy() for name in X_sample.columns}
    plan = plan_reasons(featurizer)
    fit, engagement = group_contributions(contrib, plan.groups)
    importance = pd.Series(np.abs(contrib).mean(axis=0), index=X.columns).sort_values(
        ascending=False
    )
    scorer = LeadScorer(
        featurizer,
        model,
        policy,
        ReferenceScores(
            np.sort(all_probabilities),
            np.sort(fit),
            np.sort(engagement),
            typical_reasons(contrib, reason_columns, plan.index(featurizer)),
        ),
    )
    _done(timings, "scorer_s", clock)
    return TrainingResult(
        config=config,
        examples=examples,
        scorer=scorer,
        evaluations=evaluations,
        holdout=holdout,
        importance=importance,
        timings=timings,
        best_iteration=model.best_iteration_,
        calibration={
            "method": model.calibrator_.method_,
            "level_log_odds": model.calibrator_.level_,
            "calibration_folds_used": float(n_folds),
            **({} if level_error is None else {"level_se_log_odds": level_error}),
            **{f"cv_log_loss_{k}": v for k, v in model.calibrator_.cv_log_loss_.items()},
        },
        baselines={
            POINTS: points,
            LOGISTIC: logistic,
            BASELINE_CATEGORICALS: categorical,
            BASELINE_FEATURIZER: evaluation_featurizer,
        },
        negative_share=share,
        evaluation_share=kept_evaluation,
    )

"""`leadscore train`: read and validate the export, train, log everything to MLflow, register."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from features.contract import Export
from features.history import LeadHistory
from models.pyfunc import load_scorer_from_uri
from models.registry import TrackingConfig
from training.evaluate import compare_table
from training.gate import (
    CREATED_AT,
    DataWindow,
    GateDecision,
    GateRule,
    Holdout,
    RecipeFit,
    created_window,
)
from training.inflow import recent_inflow
from training.pipeline import LIGHTGBM, LOGISTIC, POINTS, TrainConfig, TrainingResult, train
from training.plots import (
    plot_calibration,
    plot_cumulative_gains,
    plot_feature_importance,
    plot_lift_by_decile,
    plot_score_distribution,
)
from training.report import ReportSection
from training.sources import fingerprint_export, location_text
from training.tracking import (
    git_commit,
    lead_records,
    log_cohort_datasets,
    log_evaluations,
    log_report,
    log_scorer_model,
    register_and_gate,
    synthetic_example,
)

log = logging.getLogger(__name__)

MODELS = (LIGHTGBM, POINTS, LOGISTIC)


@dataclass(frozen=True)
class RunSummary:
    """What the CLI tells a person after training."""

    run_id: str
    model_uri: str
    model_name: str
    version: str
    gate: GateDecision
    comparison: pd.DataFrame
    counts: dict[str, int]
    result: TrainingResult


def calibration_section(
    holdout: pd.DataFrame, deciles: pd.DataFrame, models: tuple[str, ...]
) -> ReportSection:
    """Calibration, gains, lift and score distribution of `models` (columns of `holdout`)."""
    curves = {name: (holdout["label"].to_numpy(), holdout[name].to_numpy()) for name in models}
    return ReportSection(
        heading="Calibration and ranking",
        text="Probabilities should sit on the diagonal; gains show conversions captured.",
        tables=[("LightGBM by decile", deciles)],
        figures=[
            ("Calibration", plot_calibration(curves)),
            ("Cumulative gains", plot_cumulative_gains(curves)),
            ("Lift by decile", plot_lift_by_decile(curves)),
            (
                "LightGBM score distribution by outcome",
                plot_score_distribution(holdout["label"].to_numpy(), holdout[LIGHTGBM].to_numpy()),
            ),
        ],
    )


def build_report(result: TrainingResult) -> list[ReportSection]:
    """The training report: comparison, calibration, gains, lift, distributions, importance."""
    holdout = result.holdout
    config = result.config
    examples = result.examples
    counts = examples.snapshots.groupby("cohort")["label"].agg(["size", "sum"])
    sections = [
        ReportSection(
            heading="Training run",
            text=(
                f"Cut-off {examples.cutoff:%Y-%m-%d}, horizon {config.horizon_days} days. "
                f"Snapshots every {config.scheme.every_days} days (at most "
                f"{config.scheme.max_snapshots} per lead) while a lead has no opportunity. "
                "Leads are split by creation time into train, validation (early stopping and "
                "calibration) and the holdout reported here. Calibration: "
                f"{result.calibration['method']}; LightGBM trees: {result.best_iteration}."
            ),
            tables=[
                ("Examples per cohort (size, conversions)", counts.reset_index()),
                (
                    "Holdout metrics (95% bootstrap intervals)",
                    compare_table([result.evaluations[m] for m in MODELS]).reset_index(),
                ),
            ],
            figures=[],
        ),
        calibration_section(holdout, result.evaluations[LIGHTGBM].deciles, MODELS),
        ReportSection(
            heading="Segments",
            text="LightGBM on the holdout per segment, where counts allow.",
            tables=[
                (f"By {column}", table)
                for column, table in result.evaluations[LIGHTGBM].segments.items()
            ],
            figures=[],
        ),
        ReportSection(
            heading="What drives the score",
            text="Mean absolute SHAP contribution (log-odds) per feature.",
            tables=[],
            figures=[("Feature importance", plot_feature_importance(result.importance))],
        ),
    ]
    return sections


def fitted_window(result: TrainingResult, export: Export) -> DataWindow:
    """The leads the served model was fitted on: every cohort after a refit, else train and
    validation (early stopping and calibration read it)."""
    examples = result.examples
    cohorts = ["train", "validation", "holdout"] if result.config.refit else ["train", "validation"]
    fitted = pd.concat([examples.snapshots, examples.activity_snapshots], ignore_index=True)
    leads = fitted.loc[fitted["cohort"].isin(cohorts), "lead_id"].drop_duplicates()
    created = leads.map(export.leads.set_index("lead_id")["created_at"])
    return created_window(created, examples.cutoff)


def export_holdout(result: TrainingResult, export: Export) -> Holdout:
    """The gate's view of the holdout: the evaluated (not refitted) model's probabilities, the
    champion and the recipe refitted as of the champion's cut-off, each scored on the same
    snapshots as of the same moments."""
    holdout = result.holdout
    created = holdout["lead_id"].map(export.leads.set_index("lead_id")["created_at"])

    def unseen_by(window: DataWindow, run_id: str) -> np.ndarray | None:
        if window.kind != CREATED_AT:
            return None
        return (created > pd.Timestamp(window.end)).to_numpy()

    def history(rows: np.ndarray) -> LeadHistory:
        return LeadHistory(export.leads, export.activities, holdout.loc[rows, ["lead_id", "as_of"]])

    def score_champion(uri: str, rows: np.ndarray) -> np.ndarray:
        scores = load_scorer_from_uri(uri).score(history(rows), explain=False)
        return scores["probability"].to_numpy()

    def refit_as_of(cutoff: pd.Timestamp) -> RecipeFit | None:
        if cutoff >= result.examples.cutoff:
            return None
        clock = time.perf_counter()
        earlier, fitted = recipe_as_of(result.config, export, cutoff)
        seconds = time.perf_counter() - clock
        log.info("the recipe refitted as of %s for the gate in %.1f s", cutoff, seconds)

        def probability(rows: np.ndarray) -> np.ndarray:
            scores = fitted.scorer.score(history(rows), explain=False)
            return scores["probability"].to_numpy()

        return RecipeFit(fitted_window(fitted, earlier), probability, seconds)

    return Holdout(
        lead_ids=holdout["lead_id"].to_numpy(),
        labels=holdout["label"].to_numpy(),
        probability=holdout[LIGHTGBM].to_numpy(),
        unseen_by=unseen_by,
        score_champion=score_champion,
        refit_as_of=refit_as_of,
    )


# The gate reads only the refit's probabilities: its holdout intervals and the reference
# distribution (percentiles, typical reasons) are not needed, and cost time.
GATE_REFIT_REFERENCE_SIZE = 200


def recipe_as_of(
    config: TrainConfig, export: Export, cutoff: pd.Timestamp
) -> tuple[Export, TrainingResult]:
    """A run's recipe (its `TrainConfig`, the same pipeline) fitted on `export` as it stood at
    `cutoff` (`Export.known_at`): the export it saw, and the fit."""
    earlier = export.known_at(cutoff)
    recipe = replace(
        config,
        as_of=cutoff,
        n_bootstrap=0,
        reference_size=min(config.reference_size, GATE_REFIT_REFERENCE_SIZE),
    )
    return earlier, train(earlier, recipe)


def log_run(
    result: TrainingResult,
    export: Export,
    data_path: Path | str,
    tracking: TrackingConfig,
    extra_params: dict[str, Any] | None = None,
    rule: GateRule | None = None,
    force: bool = False,
) -> RunSummary:
    """One MLflow run: params, metrics (baselines nested), report, predictions, model, registry
    (with the version's data window), and the gate (`force`: promote when no fair comparison is
    possible)."""
    experiment_id = tracking.activate()
    client = MlflowClient()
    config = result.config
    examples = result.examples
    cohorts = examples.snapshots["cohort"].value_counts().to_dict()
    counts = {f"snapshots_{k}": int(v) for k, v in cohorts.items()}
    activity_cohorts = examples.activity_snapshots["cohort"].value_counts().to_dict()
    counts |= {f"activity_snapshots_{k}": int(v) for k, v in activity_cohorts.items()}
    with mlflow.start_run(experiment_id=experiment_id, run_name="train") as run:
        mlflow.set_tags(
            {
                "git_commit": git_commit(),
                "data_fingerprint": fingerprint_export(data_path),
                "data_path": location_text(data_path),
            }
        )
        params: dict[str, Any] = {
            "cutoff": f"{examples.cutoff:%Y-%m-%dT%H:%M:%S}",
            "horizon_days": config.horizon_days,
            "snapshot_every_days": config.scheme.every_days,
            "snapshot_max_per_lead": config.scheme.max_snapshots,
            "snapshot_activity_share": config.scheme.activity_share,
            "snapshot_activity_per_type": config.scheme.activity_per_type,
            "calibration_folds": config.calibration_folds,
            "calibration_days": config.calibration_days,
            "calibration_won_leads": config.calibration_won_leads,
            "level_days": config.level_days,
            "level_observed_days": config.level_observed_days,
            "level_followed": config.level_followed,
            "snapshot_activity_delay_days": config.scheme.activity_delay_days,
            "holdout_days": config.split.holdout_days,
            "validation_days": config.split.validation_days,
            "sql_share": config.sql_share,
            "mql_share": config.mql_share,
            "calibration": result.calibration["method"],
            "refit": config.refit,
            "negative_share": result.negative_share,
            "max_fit_rows": config.max_fit_rows,
            "evaluation_share": result.evaluation_share,
            "max_evaluation_rows": config.max_evaluation_rows,
            "recent_leads_per_week": recent_inflow(export, examples.cutoff, config.scheme),
            "best_iteration": result.best_iteration,
            "linear_weight_chosen": result.scorer.model.linear_weight_,
            **{f"boundary_{k}": f"{v:%Y-%m-%d}" for k, v in examples.boundaries.items()},
            **{f"lgb_{k}": v for k, v in result.scorer.model.get_params().items()},
            **(extra_params or {}),
        }
        mlflow.log_params(params)
        mlflow.log_metrics({**counts, **result.timings})
        mlflow.log_metrics({k: v for k, v in result.calibration.items() if k != "method"})
        log_evaluations(experiment_id, {m: result.evaluations[m] for m in MODELS}, LIGHTGBM)
        log_cohort_datasets(examples.snapshots, location_text(data_path), "label", "snapshots")
        log_report(
            "leadscore training report",
            build_report(result),
            result.holdout,
            compare_table([result.evaluations[m] for m in MODELS]),
        )

        holdout_leads = result.holdout["lead_id"].drop_duplicates().head(3).tolist()
        example = synthetic_example(
            lead_records(export, holdout_leads, examples.cutoff), examples.cutoff
        )
        model_uri = log_scorer_model(result.scorer, example, examples.cutoff)
        version, gate = register_and_gate(
            client,
            tracking.model_name,
            model_uri,
            fitted_window(result, export),
            export_holdout(result, export),
            result.scorer.policy.version,
            rule,
            force,
        )
        return RunSummary(
            run_id=run.info.run_id,
            model_uri=model_uri,
            model_name=tracking.model_name,
            version=version,
            gate=gate,
            comparison=compare_table([result.evaluations[m] for m in MODELS]),
            counts=counts,
            result=result,
        )

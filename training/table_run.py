"""The MLflow side of single-table training: the run, the registered model and its gate.

The same run logging, registration and promotion gate as export models (`training.run`,
`training.tracking`, `training.gate`), under their own registered name (default
`lead-conversion-table`), so a table model never replaces the export model's champion.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from features.tabular import CATEGORY
from models.pyfunc import load_any_scorer_from_uri
from models.registry import TrackingConfig
from models.table_scorer import TableScorer
from training.gate import TABLE_ROWS, TABLE_TIME, DataWindow, GateDecision, GateRule, Holdout
from training.pipeline import LIGHTGBM
from training.plots import plot_feature_importance
from training.report import ReportSection
from training.run import calibration_section
from training.single_table import LEAK_AUC, MODELS, SingleTableResult
from training.table_input import COHORTS, DATETIME_KEY, DROPPED, LABEL, ROW_ORDER, STRATIFIED
from training.tracking import (
    fingerprint_files,
    git_commit,
    log_cohort_datasets,
    log_evaluations,
    log_report,
    log_table_model,
    register_and_gate,
)

log = logging.getLogger(__name__)

_PARAM_CHARS = 500  # MLflow params are short strings
FITTED_ROWS_ARTIFACT = "gate/fitted_rows.json"
FITTED = ("train", "validation")  # the served table model is not refitted


@dataclass(frozen=True)
class SingleTableRunSummary:
    """What the CLI tells a person after single-table training."""

    run_id: str
    experiment_id: str
    model_uri: str
    model_name: str
    version: str
    gate: GateDecision
    comparison: pd.DataFrame
    counts: dict[str, int]
    excluded: dict[str, str]
    suspected_leaks: dict[str, float]
    result: SingleTableResult


def _short(text: str) -> str:
    return text if len(text) <= _PARAM_CHARS else text[: _PARAM_CHARS - 3] + "..."


def _describe_split(result: SingleTableResult) -> str:
    config = result.config
    shares = (
        f"{1 - config.holdout_share - config.validation_share:.0%} / "
        f"{config.validation_share:.0%} / {config.holdout_share:.0%}"
    )
    if config.split == STRATIFIED:
        return (
            f"No time column: stratified random split train / validation / holdout {shares} "
            f"(seed {config.seed}). Random splits are optimistic when the conversion rate or the "
            "mix of leads drifts over time."
        )
    key = ROW_ORDER if config.row_order_is_time else repr(config.time_column)
    starts = ", ".join(f"{k} from {v}" for k, v in result.boundaries.items())
    return f"Split forward in time by {key}: train / validation / holdout {shares} ({starts})."


def build_single_table_report(result: SingleTableResult) -> list[ReportSection]:
    """The report of a single-table run: comparison, calibration, gains, importance."""
    holdout = result.holdout
    counts = pd.DataFrame(
        {
            "cohort": list(COHORTS),
            "rows": [result.counts[f"rows_{c}"] for c in COHORTS],
            "conversions": [result.counts[f"positives_{c}"] for c in COHORTS],
        }
    )
    excluded = pd.DataFrame(
        {"column": list(result.excluded), "reason": list(result.excluded.values())}
    )
    leak_text = (
        "Features that alone separate the outcomes on validation (AUC >= "
        f"{LEAK_AUC}): "
        + ", ".join(f"{k} ({v:.3f})" for k, v in result.suspected_leaks.items())
        + ". Check whether they are filled in after contact."
        if result.suspected_leaks
        else "No single feature separates the outcomes suspiciously well."
    )
    source = result.source.name if result.source is not None else "a table"
    sections = [
        ReportSection(
            heading="Training run",
            text=(
                f"Single table {source}, label {result.config.label_column!r}. "
                f"{_describe_split(result)} LightGBM trees: {result.best_iteration}; "
                f"calibration: {result.calibration['method']}. {leak_text}"
            ),
            tables=[
                ("Rows per cohort", counts),
                ("Holdout metrics (95% bootstrap intervals)", result.comparison.reset_index()),
                ("Columns that are not features", excluded),
            ],
        ),
        calibration_section(holdout, result.evaluations[LIGHTGBM].deciles, MODELS),
        ReportSection(
            heading="What drives the score",
            text="Mean absolute SHAP contribution (log-odds) per feature on the holdout.",
            figures=[("Feature importance", plot_feature_importance(result.importance))],
        ),
    ]
    segments = result.evaluations[LIGHTGBM].segments
    if segments:
        sections.append(
            ReportSection(
                heading="Segments",
                text="LightGBM on the holdout per segment, where counts allow.",
                tables=[(f"By {column}", table) for column, table in segments.items()],
            )
        )
    return sections


# --------------------------------------------------------------------------- gate


def row_digests(rows: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit digest of each row's values in `columns` (numbers compared as numbers)."""
    frame = pd.DataFrame(index=rows.index)
    for column in columns:
        values = rows[column]
        if pd.api.types.is_numeric_dtype(values.dtype):
            values = values.astype("float64")
        frame[column] = values.astype(str)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def _key_text(value: float, kind: str | None) -> str:
    """A time key written exactly (a datetime key as an ISO timestamp, a number as a float)."""
    return pd.Timestamp(int(value)).isoformat() if kind == DATETIME_KEY else repr(float(value))


def fitted_window(result: SingleTableResult) -> DataWindow:
    """The rows the registered model was fitted on (train, and validation for early stopping
    and calibration): by the time column when the split was by one, else by row digests."""
    fitted = result.table["cohort"].isin(FITTED).to_numpy()
    config = result.config
    if config.time_column is not None and result.time_key is not None:
        keys = result.time_key[fitted]
        return DataWindow(
            kind=TABLE_TIME,
            start=_key_text(float(np.min(keys)), result.time_kind),
            end=_key_text(float(np.max(keys)), result.time_kind),
            leads=int(fitted.sum()),
            column=config.time_column,
        )
    return DataWindow(kind=TABLE_ROWS, start="", end="", leads=int(fitted.sum()))


def table_holdout(result: SingleTableResult, client: MlflowClient) -> Holdout:
    """The gate's view of a table model's holdout: rows outside the champion's window by time
    column or row digest; the champion scores the holdout rows as read."""
    hold = (result.table["cohort"] == "holdout").to_numpy()
    rows = result.rows_as_read.loc[hold].reset_index(drop=True)
    config = result.config

    def unseen_by(window: DataWindow, run_id: str) -> np.ndarray | None:
        if window.kind == TABLE_TIME:
            if window.column != config.time_column or result.time_key is None:
                return None
            end = (
                float(pd.Timestamp(window.end).value)
                if result.time_kind == DATETIME_KEY
                else float(window.end)
            )
            return result.time_key[hold] > end
        if window.kind != TABLE_ROWS or not run_id:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, FITTED_ROWS_ARTIFACT, tmp)
            seen = json.loads(Path(path).read_text())
        columns = list(seen["columns"])
        if any(c not in rows.columns for c in columns):
            return None
        digests = np.asarray([int(d, 16) for d in seen["digests"]], dtype=np.uint64)
        return ~np.isin(row_digests(rows, columns), digests)

    def score_champion(uri: str, mask: np.ndarray) -> np.ndarray:
        champion = load_any_scorer_from_uri(uri)
        if not isinstance(champion, TableScorer):
            raise ValueError(f"{uri} is not a single-table model")
        return champion.score(rows.loc[mask], explain=False)["probability"].to_numpy()

    labels = result.holdout["label"].to_numpy()
    ids = np.asarray(result.scorer.lead_ids(rows), dtype=object)
    if result.scorer.id_column is None:
        ids = np.asarray([f"row {r}" for r in result.holdout["row"]], dtype=object)
    return Holdout(
        lead_ids=ids,
        labels=labels,
        probability=result.holdout[LIGHTGBM].to_numpy(),
        unseen_by=unseen_by,
        score_champion=score_champion,
    )


def _write_fitted_rows(result: SingleTableResult, folder: Path) -> None:
    """Every fitted row's digest over all the table's columns, for a later gate."""
    fitted = result.table["cohort"].isin(FITTED).to_numpy()
    columns = [str(c) for c in result.rows_as_read.columns]
    digests = row_digests(result.rows_as_read.loc[fitted], columns)
    body = {"columns": columns, "digests": [f"{d:016x}" for d in digests.tolist()]}
    (folder / "fitted_rows.json").write_text(json.dumps(body))


# --------------------------------------------------------------------------- run


def log_single_table_run(
    result: SingleTableResult,
    tracking: TrackingConfig,
    extra_params: Mapping[str, Any] | None = None,
    rule: GateRule | None = None,
    force: bool = False,
) -> SingleTableRunSummary:
    """One MLflow run: params, metrics (logistic nested), datasets, report, predictions, the
    model registered under `tracking.table_model_name` with its data window, and the gate."""
    experiment_id = tracking.activate()
    client = MlflowClient()
    config = result.config
    name = tracking.table_model_name
    with mlflow.start_run(experiment_id=experiment_id, run_name="train-table") as run:
        tags = {"git_commit": git_commit(), "training_data": "single_table"}
        if result.source is not None:
            tags["data_fingerprint"] = fingerprint_files([result.source])
            tags["data_path"] = str(result.source.resolve())
        mlflow.set_tags(tags)
        params: dict[str, Any] = {
            "label_column": config.label_column,
            "drop": _short(",".join(config.drop)),
            "split": config.split,
            "time_column": ROW_ORDER if config.row_order_is_time else config.time_column,
            "holdout_share": config.holdout_share,
            "validation_share": config.validation_share,
            "missing_values": _short(",".join(config.missing_values)),
            "min_category_count": config.min_category_count,
            "max_category_levels": config.max_category_levels,
            "seed": config.seed,
            "n_features": len(result.featurizer.feature_names_out_),
            "excluded_automatically": _short(
                ",".join(c for c, r in result.excluded.items() if r not in (LABEL, DROPPED))
            ),
            "id_column": result.scorer.id_column,
            "sql_share": config.sql_share,
            "mql_share": config.mql_share,
            "calibration": result.calibration["method"],
            "best_iteration": result.best_iteration,
            **{f"boundary_{k}": v for k, v in result.boundaries.items()},
            **{f"lgb_{k}": v for k, v in result.model.get_params().items()},
            **dict(extra_params or {}),
        }
        mlflow.log_params(params)
        mlflow.log_metrics(
            {
                **{k: float(v) for k, v in result.counts.items()},
                **result.timings,
                **{k: v for k, v in result.calibration.items() if k != "method"},
                "suspected_leaks": float(len(result.suspected_leaks)),
            }
        )
        log_evaluations(experiment_id, {m: result.evaluations[m] for m in MODELS}, LIGHTGBM)
        source = str(result.source.resolve()) if result.source is not None else "table"
        log_cohort_datasets(result.table, source, LABEL, "rows")

        def extra(folder: Path) -> None:
            result.importance.rename("mean_abs_shap").to_csv(folder / "feature_importance.csv")
            columns = {
                "excluded": result.excluded,
                "features": result.featurizer.source_columns_,
                "label_values": result.label_values,
                "suspected_leaks": result.suspected_leaks,
            }
            (folder / "columns.json").write_text(json.dumps(columns, indent=2))

        log_report(
            "leadscore single-table training report",
            build_single_table_report(result),
            holdout_predictions(result),
            result.comparison,
            extra,
        )
        with tempfile.TemporaryDirectory() as tmp:
            _write_fitted_rows(result, Path(tmp))
            mlflow.log_artifact(str(Path(tmp) / "fitted_rows.json"), artifact_path="gate")
        # Invented values, never real leads, in the artifact store (docs/security.md).
        example = pd.DataFrame([result.scorer.example()], columns=result.scorer.input_columns)
        kinds = result.scorer.column_kinds()
        for column in example.columns:
            if kinds[column] != CATEGORY:  # numbers typed as in the table (the signature's)
                example[column] = example[column].astype(result.rows_as_read[column].dtype)
        model_uri = log_table_model(result.scorer, example)
        version, gate = register_and_gate(
            client,
            name,
            model_uri,
            fitted_window(result),
            table_holdout(result, client),
            result.scorer.policy.version,
            rule,
            force,
        )
        return SingleTableRunSummary(
            run_id=run.info.run_id,
            experiment_id=experiment_id,
            model_uri=model_uri,
            model_name=name,
            version=version,
            gate=gate,
            comparison=result.comparison,
            counts=result.counts,
            excluded=result.excluded,
            suspected_leaks=result.suspected_leaks,
            result=result,
        )


def holdout_predictions(result: SingleTableResult) -> pd.DataFrame:
    """The holdout predictions with the columns `leadscore thresholds` reads: one row per
    lead (`lead_id`), `as_of` its time (NaT without a datetime time column), age 0."""
    frame = result.holdout.copy()
    hold = (result.table["cohort"] == "holdout").to_numpy()
    frame["lead_id"] = result.scorer.lead_ids(result.rows_as_read.loc[hold])
    if result.time_kind == DATETIME_KEY and result.time_key is not None:
        frame["as_of"] = pd.to_datetime(result.time_key[hold].astype(np.int64))
    else:
        frame["as_of"] = pd.NaT
    frame["age_days"] = 0.0
    return frame

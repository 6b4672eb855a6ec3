"""The closed loop at its edges: the prediction log and an export joined, drift against the
model version the log holds most, and the report logged to MLflow (`leadscore closed-loop`,
the ui's closed-loop page). The joining and figures themselves are pure: `ops/closed_loop.py`.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from features.contract import Export
from models.registry import TrackingConfig, resolve_model_version, version_uri
from ops.closed_loop import (
    ClosedLoopResult,
    closed_loop,
    closed_loop_sections,
)
from ops.drift import DEFAULT_PSI_FLAG, drift_metrics, feature_drift
from training.report import render_report

if TYPE_CHECKING:
    from models.scorer import LeadScorer

log = logging.getLogger(__name__)


class ClosedLoopError(RuntimeError):
    """The report cannot be made; the message says why."""


@dataclass(frozen=True)
class ClosedLoopOutcome:
    result: ClosedLoopResult
    html: str
    run_id: str
    model_uri: str


def most_logged_model(predictions: pd.DataFrame) -> str:
    """`models:/name/version` of the model version with the most logged scores."""
    counts = (
        predictions.groupby(["model_name", "model_version"])
        .size()
        .reset_index(name="scores")
        .sort_values("scores", ascending=False, kind="stable")
    )
    return version_uri(str(counts["model_name"].iloc[0]), str(counts["model_version"].iloc[0]))


@dataclass(frozen=True)
class JoinedLoop:
    """The closed loop of one prediction log and export, and the model version it is about."""

    result: ClosedLoopResult
    model_uri: str
    model_name: str | None
    model_version: str | None
    horizon_days: int
    scorer: LeadScorer | None = None  # loaded for drift; None without it


@dataclass(frozen=True)
class LoopOptions:
    """How to join: the export's cut-off and horizon (default: the export's and the model's),
    the model version for drift (default: the most logged), scores returned since, drift."""

    cutoff: pd.Timestamp | None = None
    horizon_days: int | None = None
    model_uri: str | None = None
    since: pd.Timestamp | None = None
    psi_threshold: float = DEFAULT_PSI_FLAG
    with_drift: bool = True


def join_closed_loop(source: str, export: Export, options: LoopOptions | None = None) -> JoinedLoop:
    """Read the log, join outcomes, measure drift (MLflow must be activated; nothing is logged)."""
    options = options or LoopOptions()
    cutoff, horizon_days, since = options.cutoff, options.horizon_days, options.since
    import mlflow
    from mlflow import MlflowClient

    from models.pyfunc import load_scorer_from_uri
    from ops.prediction_log import read_predictions

    try:
        predictions = read_predictions(source)
    except (OSError, ValueError, SQLAlchemyError) as exc:
        raise ClosedLoopError(f"cannot read the prediction log {source}: {exc}") from exc
    if since is not None:
        predictions = predictions[predictions["scored_at"] >= since].reset_index(drop=True)
    if predictions.empty:
        raise ClosedLoopError(f"the prediction log {source} holds no scores in that period")
    client = MlflowClient()
    uri = options.model_uri or most_logged_model(predictions)
    params: dict[str, str] = {}
    name = version = None
    try:
        name, version = resolve_model_version(uri, client)
        found = client.get_model_version(name, version)
        if found.run_id:
            params = dict(client.get_run(found.run_id).data.params)
    except (ValueError, mlflow.exceptions.MlflowException) as exc:
        log.warning("no registry facts for %s: %s", uri, exc)
    horizon = horizon_days or int(params.get("horizon_days", 90))
    drift = None
    scorer = None
    if options.with_drift:
        if not params or name is None or version is None:
            raise ClosedLoopError(
                f"drift needs the training run of {uri}; pass --model or --no-drift"
            )
        try:
            scorer = load_scorer_from_uri(version_uri(name, version))
            drift = feature_drift(
                scorer, export, params, predictions, threshold=options.psi_threshold
            )
        except ValueError as exc:
            raise ClosedLoopError(f"cannot measure drift: {exc}") from exc
    try:
        result = closed_loop(predictions, export, horizon, cutoff, drift=drift)
    except ValueError as exc:
        raise ClosedLoopError(str(exc)) from exc
    return JoinedLoop(result, uri, name, version, horizon, scorer)


def run_closed_loop_report(
    source: str,
    export: Export,
    data_path: Path,
    tracking: TrackingConfig,
    options: LoopOptions | None = None,
) -> ClosedLoopOutcome:
    """Read the log, join outcomes, measure drift, render the page, log a `closed-loop` run."""
    import mlflow

    options = options or LoopOptions()
    experiment_id = tracking.activate()
    joined = join_closed_loop(source, export, options)
    psi_threshold = options.psi_threshold
    result, drift, uri = joined.result, joined.result.drift, joined.model_uri
    name, version, horizon = joined.model_name, joined.model_version, joined.horizon_days
    sections = closed_loop_sections(result, str(source))
    _, page = render_report("leadscore closed-loop report", sections)
    metrics = {k: v for k, v in result.key_figures().items() if v == v}
    if drift is not None:
        metrics.update(drift_metrics(drift))
    with mlflow.start_run(experiment_id=experiment_id, run_name="closed-loop") as run:
        mlflow.set_tags(
            {
                "leadscore.report": "closed-loop",
                "model_uri": uri,
                "model_name": name or "",
                "model_version": version or "",
                "predictions": str(source),
                "data_path": str(data_path.resolve()),
            }
        )
        mlflow.log_params(
            {
                "horizon_days": horizon,
                "cutoff": f"{result.cutoff:%Y-%m-%dT%H:%M:%S}",
                "psi_threshold": psi_threshold,
            }
        )
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "closed_loop_report.html").write_text(page, encoding="utf-8")
            result.by_tier.to_csv(folder / "realized_by_tier.csv", index=False)
            if drift is not None:
                drift.table.to_csv(folder / "drift_psi.csv", index=False)
            mlflow.log_artifacts(str(folder), artifact_path="closed_loop")
    return ClosedLoopOutcome(result, page, run.info.run_id, uri)

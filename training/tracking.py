"""MLflow: what a training run logs (the data's fingerprint, the pyfunc model), registration
and the gate (training/gate.py). Where runs go and what the registry calls things is
models/registry.py's."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from mlflow.types import ColSpec, Schema

from features.contract import Export
from models.digests import DIGESTS_TAG, file_digests, manifest
from models.pyfunc import (
    PACKAGES,
    LeadScoringModel,
    Scorer,
    TableScoringModel,
    save_scorer,
)
from models.records import ACTIVITIES_FIELD
from models.registry import (
    APPLIED_POLICY_TAG,
    CHALLENGER,
    CHAMPION,
    GATE_REPORT_ARTIFACT,
    HOLDOUT_FILE,
    MODEL_ARTIFACT_PATH,
    REPORT_ARTIFACT_DIR,
    set_alias,
)
from models.scorer import LeadScorer
from models.table_scorer import TableScorer
from training.evaluate import ModelEvaluation, flatten_metrics
from training.gate import DataWindow, GateDecision, GateRule, Holdout, champion_gate
from training.report import ReportSection, write_report

log = logging.getLogger(__name__)

REQUIREMENTS = ("pandas", "numpy", "pyarrow", "scikit-learn", "lightgbm", "mlflow")


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def fingerprint_files(paths: list[Path]) -> str:
    """A digest of the export's table files, so a run says exactly which data it saw."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def lead_records(export: Export, lead_ids: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
    """Leads as the MLflow model takes them: one row per lead, activities nested."""
    leads = export.leads[export.leads["lead_id"].isin(lead_ids)].copy()
    acts = export.activities[
        export.activities["lead_id"].isin(lead_ids) & (export.activities["occurred_at"] < as_of)
    ]
    nested = {
        lead: [
            {"activity_type": t, "occurred_at": f"{o:%Y-%m-%dT%H:%M:%SZ}"}
            for t, o in zip(group["activity_type"], group["occurred_at"], strict=True)
        ]
        for lead, group in acts.groupby("lead_id")
    }
    leads["created_at"] = leads["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    leads[ACTIVITIES_FIELD] = pd.Series(
        [nested.get(lead, []) for lead in leads["lead_id"]], index=leads.index, dtype=object
    )
    return leads.astype({c: object for c in leads.columns if c != "company_size"}).where(
        leads.notna(), None
    )


def synthetic_example(records: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invented leads shaped like `records` (same columns and value types) for the logged
    model's input example and signature: the artifact store must not hold real leads."""
    rows = []
    for i in range(len(records)):
        row: dict[str, object] = {}
        for column in records.columns:
            present = [v for v in records[column] if v is not None and v == v]
            value = present[0] if present else None
            if column == "lead_id":
                row[column] = f"example-{i + 1}"
            elif column == "created_at":
                row[column] = f"{as_of - pd.Timedelta(days=30 + i):%Y-%m-%dT%H:%M:%SZ}"
            elif column == ACTIVITIES_FIELD:
                types = [a["activity_type"] for v in present for a in v][:2] or ["page_view"]
                row[column] = [
                    {
                        "activity_type": kind,
                        "occurred_at": f"{as_of - pd.Timedelta(days=3 + k):%Y-%m-%dT%H:%M:%SZ}",
                    }
                    for k, kind in enumerate(types)
                ]
            elif isinstance(value, bool):
                row[column] = False
            elif isinstance(value, int | float):
                row[column] = type(value)(100)
            elif isinstance(value, str):
                row[column] = "example"
            else:
                row[column] = None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(records.columns))
    return frame.astype(records.dtypes.to_dict())


def pip_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in REQUIREMENTS]


def log_scorer_model(scorer: LeadScorer, example: pd.DataFrame, as_of: pd.Timestamp) -> str:
    """Log the scorer as a self-contained pyfunc in the active run; returns its model URI."""
    # Any lead field but the id and creation time may be missing in a CRM record.
    return _log_pyfunc(
        LeadScoringModel(),
        scorer,
        example,
        {"as_of": f"{as_of:%Y-%m-%dT%H:%M:%SZ}", "explain": True},
        required={"lead_id", "created_at"},
    )


def log_table_model(scorer: TableScorer, example: pd.DataFrame) -> str:
    """Log a single-table scorer as a pyfunc taking rows of the table's input columns."""
    return _log_pyfunc(TableScoringModel(), scorer, example, {"explain": True}, required=set())


def _log_pyfunc(
    python_model: LeadScoringModel | TableScoringModel,
    scorer: Scorer,
    example: pd.DataFrame,
    params: dict[str, Any],
    required: set[str],
) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = save_scorer(scorer, Path(tmp))
        python_model.scorer = scorer
        output = python_model.predict(None, example, params)
        signature = infer_signature(example, output, params=params)
        signature.inputs = Schema(
            [ColSpec(c.type, c.name, required=c.name in required) for c in signature.inputs.inputs]
        )
        root = Path(__file__).resolve().parent.parent
        info = mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT_PATH,
            python_model=type(python_model)(),
            artifacts=artifacts,
            code_paths=[str(root / package) for package in PACKAGES],
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
        )
    return str(info.model_uri)


def record_file_digests(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    """Hash every file of a registered model version and keep the digests in the registry
    (`models.digests`), where whoever serves the version checks its files against them."""
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tmp
        )
        digests = file_digests(Path(local))
    client.set_model_version_tag(name, version, DIGESTS_TAG, manifest(digests))
    return digests


def register_and_gate(
    client: MlflowClient,
    name: str,
    model_uri: str,
    window: DataWindow,
    holdout: Holdout,
    policy_version: str,
    rule: GateRule | None = None,
    force: bool = False,
) -> tuple[str, GateDecision]:
    """Register the active run's model as @challenger with its data window, run the gate, and
    make it @champion when the gate says so; the decision is logged to the run."""
    version = str(mlflow.register_model(model_uri, name).version)
    record_file_digests(client, name, version)
    set_alias(client, name, CHALLENGER, version)
    for key, value in {**window.tags(), APPLIED_POLICY_TAG: policy_version}.items():
        client.set_model_version_tag(name, version, key, value)
    gate = champion_gate(client, name, CHAMPION, version, holdout, rule, force)
    mlflow.log_metrics({f"gate_{k}": v for k, v in gate.metrics.items()})
    # Which champion it was judged against: after a promotion the registry no longer says.
    mlflow.set_tags(
        {
            "gate_promoted": str(gate.promoted),
            "gate_reason": gate.reason,
        }
        | {f"gate_{k}": v for k, v in gate.details.items()}
        | ({"gate_champion_version": gate.champion_version} if gate.champion_version else {})
    )
    mlflow.log_dict(gate.record(), GATE_REPORT_ARTIFACT)
    if gate.promoted:
        set_alias(client, name, CHAMPION, version)
    return version, gate


def holdout_metrics(evaluation: ModelEvaluation) -> dict[str, float]:
    """A model's holdout metrics as MLflow metrics (`holdout_*`; NaN ones are left out)."""
    flat = flatten_metrics(evaluation.metrics, prefix="holdout_")
    return {k: v for k, v in flat.items() if v == v}


def log_evaluations(
    experiment_id: str, evaluations: Mapping[str, ModelEvaluation], served: str
) -> None:
    """The served model's holdout metrics on the active run, each baseline's in a nested run."""
    mlflow.log_metrics(holdout_metrics(evaluations[served]))
    for name, evaluation in evaluations.items():
        if name == served:
            continue
        with mlflow.start_run(experiment_id=experiment_id, run_name=name, nested=True):
            mlflow.log_param("model", name)
            mlflow.log_metrics(holdout_metrics(evaluation))


def log_cohort_datasets(rows: pd.DataFrame, source: str, target: str, name: str) -> None:
    """The train and holdout rows (a `cohort` column says which) as MLflow dataset inputs."""
    for cohort in ("train", "holdout"):
        frame = rows[rows["cohort"] == cohort].drop(columns="cohort")
        dataset = from_pandas(frame, source=source, targets=target, name=f"{cohort}_{name}")
        mlflow.log_input(dataset, context=cohort)


def log_report(
    title: str,
    sections: list[ReportSection],
    holdout: pd.DataFrame,
    comparison: pd.DataFrame,
    extra: Callable[[Path], None] | None = None,
) -> None:
    """The report, holdout predictions, comparison (and `extra` files) under `report/`."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_report(title, sections, folder)
        holdout.to_parquet(folder / HOLDOUT_FILE, index=False)
        comparison.to_csv(folder / "comparison.csv")
        if extra is not None:
            extra(folder)
        mlflow.log_artifacts(str(folder), artifact_path=REPORT_ARTIFACT_DIR)

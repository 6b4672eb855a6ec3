"""MLflow: what a training run logs (the data's fingerprint, the pyfunc model) and the gate.

Where runs go and what the registry calls things is models/registry.py's.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from mlflow.types import ColSpec, Schema
from sklearn.metrics import log_loss, roc_auc_score

from features.build import LeadHistory
from features.contract import Export
from models.digests import DIGESTS_TAG, file_digests, manifest
from models.pyfunc import (
    PACKAGES,
    LeadScoringModel,
    load_scorer_from_uri,
    save_scorer,
)
from models.records import ACTIVITIES_FIELD
from models.registry import CHAMPION, MODEL_ARTIFACT_PATH, version_uri
from models.scorer import LeadScorer

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
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = save_scorer(scorer, Path(tmp))
        model = LeadScoringModel()
        model.scorer = scorer
        output = model.predict(None, example, {"as_of": as_of.isoformat(), "explain": True})
        signature = infer_signature(
            example, output, params={"as_of": f"{as_of:%Y-%m-%dT%H:%M:%SZ}", "explain": True}
        )
        # Any lead field but the id and creation time may be missing in a CRM record.
        signature.inputs = Schema(
            [
                ColSpec(c.type, c.name, required=c.name in ("lead_id", "created_at"))
                for c in signature.inputs.inputs
            ]
        )
        root = Path(__file__).resolve().parent.parent
        info = mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT_PATH,
            python_model=LeadScoringModel(),
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


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger replaces the champion, with the numbers it was decided on."""

    promoted: bool
    reason: str
    challenger_version: str
    champion_version: str | None
    metrics: dict[str, float]


def champion_gate(
    client: MlflowClient,
    name: str,
    challenger_version: str,
    challenger_probability: np.ndarray,
    holdout_history: LeadHistory,
    labels: np.ndarray,
) -> GateDecision:
    """Promote when there is no champion, or the challenger is no worse on the same holdout."""
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        champion = None
    if champion is None:
        return GateDecision(True, "no champion yet", challenger_version, None, {})
    champion_scorer = load_scorer_from_version(client, name, str(champion.version))
    champion_probability = champion_scorer.score(holdout_history, explain=False)[
        "probability"
    ].to_numpy()
    metrics = {
        "challenger_log_loss": float(log_loss(labels, challenger_probability, labels=[0, 1])),
        "champion_log_loss": float(log_loss(labels, champion_probability, labels=[0, 1])),
        "challenger_roc_auc": float(roc_auc_score(labels, challenger_probability)),
        "champion_roc_auc": float(roc_auc_score(labels, champion_probability)),
    }
    better_loss = metrics["challenger_log_loss"] <= metrics["champion_log_loss"]
    better_auc = metrics["challenger_roc_auc"] >= metrics["champion_roc_auc"]
    promoted = better_loss and better_auc
    reason = (
        "challenger is not worse by log loss and ROC AUC"
        if promoted
        else "challenger is worse by "
        + " and ".join(
            m for m, ok in (("log loss", better_loss), ("ROC AUC", better_auc)) if not ok
        )
    )
    return GateDecision(promoted, reason, challenger_version, str(champion.version), metrics)


def load_scorer_from_version(client: MlflowClient, name: str, version: str) -> LeadScorer:
    return load_scorer_from_uri(version_uri(name, version))

"""The MLflow model: one self-contained pyfunc holding features, model, calibrator, policy.

`LeadScoringModel` takes leads with nested activities (export models); `TableScoringModel`
takes rows of the table a single-table model was trained on. Both store their scorer as data
(`models.artifacts`), so loading, the registry and the service treat them alike.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow.artifacts
import pandas as pd
from mlflow.models import Model
from mlflow.pyfunc import PythonModel

from models.artifacts import load_scorer_files, save_scorer_files
from models.digests import recorded_digests, verify_files
from models.records import records_to_history
from models.registry import (
    POLICY_ARTIFACT,
    POLICY_FILE,
    SCORER_ARTIFACT,
    SCORER_FILE,
    resolve_model_version,
    version_uri,
)
from models.scorer import LeadScorer
from models.table_scorer import TableScorer
from models.tiers import TierPolicy

log = logging.getLogger(__name__)

PACKAGES = ("features", "models")
Scorer = LeadScorer | TableScorer


def save_scorer(scorer: Scorer, folder: Path) -> dict[str, str]:
    """Write the scorer (a folder of data files, `models.artifacts`) and its tier policy;
    returns the pyfunc artifacts mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    scorer_path = folder / SCORER_FILE
    policy_path = folder / POLICY_FILE
    save_scorer_files(scorer, scorer_path)
    policy_path.write_text(json.dumps(scorer.policy.to_dict(), indent=2))
    return {SCORER_ARTIFACT: str(scorer_path), POLICY_ARTIFACT: str(policy_path)}


def load_scorer(artifacts: dict[str, str]) -> Scorer:
    """The scorer with the tier policy file that sits beside it (which may be newer)."""
    policy = TierPolicy.from_dict(json.loads(Path(artifacts[POLICY_ARTIFACT]).read_text()))
    return load_scorer_files(Path(artifacts[SCORER_ARTIFACT]), policy)


def download_model(uri: str, dst: Path) -> Path:
    """Copy a logged model (`models:/name@alias`, `models:/name/1`, runs:/, a path) into `dst`."""
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))


def load_scorer_from_path(local: Path) -> Scorer:
    """The scorer inside a leadscore MLflow model folder on disk."""
    flavor = Model.load(str(local)).flavors["python_function"]
    return load_scorer(
        {key: str(local / spec["path"]) for key, spec in flavor["artifacts"].items()}
    )


def download_registered(uri: str, dst: Path) -> Path:
    """The files of the registry version `uri` names, checked against the SHA-256 digests
    recorded when it was registered (ArtifactError naming a changed, missing or unexpected
    file, or saying that none were recorded)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    name, version = resolve_model_version(uri, client)
    what = f"model {name} version {version}"
    digests = recorded_digests(client.get_model_version(name, version).tags or {}, what)
    # The exact version resolved above, not whatever the alias points at a moment later.
    local = download_model(version_uri(name, version), dst)
    verify_files(local, digests, what)
    return local


def load_any_scorer_from_uri(uri: str) -> Scorer:
    """The scorer inside a logged leadscore model (`models:/name@alias`, runs:/, a path).

    A registry version is checked file by file against its recorded digests before any file
    is read, as the service does; a run or a path is the caller's own folder and is not.
    """
    with tempfile.TemporaryDirectory() as tmp:
        if uri.startswith("models:/"):
            return load_scorer_from_path(download_registered(uri, Path(tmp)))
        return load_scorer_from_path(download_model(uri, Path(tmp)))


def lead_scorer(scorer: Scorer, uri: str = "the model") -> LeadScorer:
    """`scorer` when it scores leads with activities; a table model is refused, saying so."""
    if not isinstance(scorer, LeadScorer):
        raise ValueError(
            f"{uri} is a single-table model (columns {', '.join(scorer.input_columns[:5])}, ...):"
            " score it with --data TABLE.csv/.parquet, not an export"
        )
    return scorer


def load_scorer_from_uri(uri: str) -> LeadScorer:
    """The `LeadScorer` of a logged export model (a single-table model is refused)."""
    return lead_scorer(load_any_scorer_from_uri(uri), uri)


class LeadScoringModel(PythonModel):
    """Takes lead records with nested `activities`; returns the service's scores."""

    def load_context(self, context: Any) -> None:
        self.scorer = lead_scorer(load_scorer(context.artifacts))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        records: list[dict[str, Any]] = [
            {str(k): v for k, v in row.items()} for row in model_input.to_dict(orient="records")
        ]
        as_of = params.get("as_of") or pd.Timestamp.now(tz="UTC")
        history, _ = records_to_history(records, as_of)
        scores = self.scorer.score(history, explain=bool(params.get("explain", True)))
        scores["as_of"] = scores["as_of"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        scores["policy_version"] = self.scorer.policy.version
        return scores


class TableScoringModel(PythonModel):
    """Takes rows with the training table's columns; returns the same score fields."""

    def load_context(self, context: Any) -> None:
        scorer = load_scorer(context.artifacts)
        if not isinstance(scorer, TableScorer):
            raise TypeError("this model's scorer does not score table rows")
        self.scorer = scorer

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        scores = self.scorer.score(model_input, explain=bool(params.get("explain", True)))
        scores["policy_version"] = self.scorer.policy.version
        return scores

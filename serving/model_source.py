"""Getting the model to serve: from the MLflow registry, a prepared folder, or a bento.

A prepared folder holds the MLflow model (`mlflow_model/`) and `card.json`, what `GET /model`
says about it (registry name, version, alias, training window, holdout metrics, features,
tier policy), read from MLflow once when the folder is made. `leadscore serve` prepares one
folder for all workers; a bento carries one as a BentoML model.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.scorer import LeadScorer

log = logging.getLogger(__name__)

MLFLOW_MODEL_DIR = "mlflow_model"
CARD_FILE = "card.json"
BENTO_MODEL_NAME = "lead-conversion"
# models.pyfunc's artifact keys (importing it would import MLflow; a test keeps them equal).
SCORER_ARTIFACT = "scorer"
POLICY_ARTIFACT = "tier_policy"
TRAINING_PARAMS = (
    "cutoff",
    "horizon_days",
    "snapshot_every_days",
    "snapshot_max_per_lead",
    "holdout_days",
    "validation_days",
    "calibration",
    "best_iteration",
)


class ModelLoadError(RuntimeError):
    """The model cannot be served; the message says which model and why."""


@dataclass(frozen=True)
class ModelCard:
    """What the service tells about the model it serves."""

    name: str
    version: str
    alias: str | None
    uri: str
    run_id: str | None
    training: dict[str, Any]
    holdout_metrics: dict[str, float]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(**{key: data.get(key) for key in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class ServedModel:
    scorer: LeadScorer
    card: ModelCard


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of `models:/name@alias` or `models:/name/version`."""
    rest = uri.removeprefix("models:/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        return name, alias, None
    name, _, version = rest.partition("/")
    return name, None, version or None


def _run_facts(client: Any, run_id: str | None) -> tuple[dict[str, Any], dict[str, float]]:
    if not run_id:
        return {}, {}
    run = client.get_run(run_id)
    params = run.data.params
    training: dict[str, Any] = {k: params[k] for k in TRAINING_PARAMS if k in params}
    training.update(
        {k.removeprefix("boundary_"): v for k, v in params.items() if k.startswith("boundary_")}
    )
    metrics = {
        k.removeprefix("holdout_"): float(v)
        for k, v in sorted(run.data.metrics.items())
        if k.startswith("holdout_")
    }
    return training, metrics


def describe_uri(uri: str, tracking_uri: str) -> ModelCard:
    """Registry name, version and alias of `uri`, with its run's training window and metrics."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if uri.startswith("models:/"):
        name, alias, version = parse_registry_uri(uri)
        if alias is not None:
            found = client.get_model_version_by_alias(name, alias)
        else:
            found = client.get_model_version(name, str(version))
        training, metrics = _run_facts(client, found.run_id)
        return ModelCard(
            name=name,
            version=str(found.version),
            alias=alias,
            uri=uri,
            run_id=found.run_id,
            training=training,
            holdout_metrics=metrics,
        )
    run_id = uri.removeprefix("runs:/").split("/")[0] if uri.startswith("runs:/") else None
    training, metrics = _run_facts(client, run_id)
    return ModelCard(
        name=Path(uri.rstrip("/")).name or "model",
        version=run_id or "local",
        alias=None,
        uri=uri,
        run_id=run_id,
        training=training,
        holdout_metrics=metrics,
    )


def prepare_model_dir(uri: str, tracking_uri: str, folder: Path) -> ModelCard:
    """Resolve `uri` once, download its MLflow model and write its card into `folder`."""
    from models.pyfunc import download_model

    try:
        card = describe_uri(uri, tracking_uri)
        # Download the exact version the alias pointed at, not whatever it points at now.
        pinned = f"models:/{card.name}/{card.version}" if uri.startswith("models:/") else uri
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / MLFLOW_MODEL_DIR
        if target.exists():
            shutil.rmtree(target)
        downloaded = download_model(pinned, folder / "download")
        downloaded.rename(target)
        shutil.rmtree(folder / "download", ignore_errors=True)
    except Exception as exc:  # MLflow raises many kinds; the operator needs the message
        raise ModelLoadError(
            f"cannot get model {uri} from MLflow at {tracking_uri}: {exc}. "
            "Train one (`leadscore train`), or set LEADSCORE_MODEL_URI / MLFLOW_TRACKING_URI."
        ) from exc
    (folder / CARD_FILE).write_text(json.dumps(asdict(card), indent=2))
    return card


def _load_scorer(model_path: Path) -> LeadScorer:
    """The scorer of an MLflow model folder: `models.pyfunc.load_scorer`'s files, read without
    importing MLflow (seconds of start-up per worker)."""
    import pickle

    import yaml

    from models.tiers import TierPolicy

    spec = yaml.safe_load((model_path / "MLmodel").read_text())
    artifacts = spec["flavors"]["python_function"]["artifacts"]
    scorer = pickle.loads((model_path / artifacts[SCORER_ARTIFACT]["path"]).read_bytes())
    if not isinstance(scorer, LeadScorer):
        raise TypeError(f"the scorer artifact holds a {type(scorer).__name__}")
    policy = json.loads((model_path / artifacts[POLICY_ARTIFACT]["path"]).read_text())
    return scorer.with_policy(TierPolicy.from_dict(policy))


def load_model_dir(folder: Path) -> ServedModel:
    """The scorer and card of a prepared folder."""
    try:
        card = ModelCard.from_dict(json.loads((folder / CARD_FILE).read_text()))
        scorer = _load_scorer(folder / MLFLOW_MODEL_DIR)
    except Exception as exc:
        raise ModelLoadError(f"cannot load the model in {folder}: {exc}") from exc
    return ServedModel(scorer, card)


def load_from_registry(uri: str, tracking_uri: str, scratch: Path) -> ServedModel:
    """Resolve, download and load in one go (a worker started without a prepared folder)."""
    prepare_model_dir(uri, tracking_uri, scratch)
    return load_model_dir(scratch)


def save_bento_model(uri: str, tracking_uri: str, name: str = BENTO_MODEL_NAME) -> str:
    """Put the model behind `uri` into the BentoML model store (for `bentoml build`); its tag."""
    import bentoml

    with tempfile.TemporaryDirectory() as tmp:
        card = prepare_model_dir(uri, tracking_uri, Path(tmp))
        load_model_dir(Path(tmp))  # refuse to store something that will not load
        with bentoml.models.create(
            name,
            labels={"mlflow_name": card.name, "mlflow_version": card.version},
            metadata={"mlflow_uri": uri, "run_id": card.run_id or ""},
        ) as stored:
            shutil.copytree(tmp, stored.path, dirs_exist_ok=True)
    return str(stored.tag)

"""The model registry: the model's name, its aliases, artifact keys, the MLflow store, the card.

Everything that names a registered model or a file inside one is spelled here and nowhere else:
training registers under `TrackingConfig.model_name`, every command and the service default to
`default_model_uri()` (the @champion of the configured name), the tier-policy store reads the
policy packed at `PACKAGED_POLICY_PATH`, the service reads the scorer by `SCORER_ARTIFACT`.

MLflow is imported only inside functions that talk to it, so a serving worker that reads a
prepared model folder never pays MLflow's import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.settings import Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "lead-conversion"
# Single-table models register under their own name, so one never replaces the export champion.
DEFAULT_TABLE_MODEL_NAME = "lead-conversion-table"
DEFAULT_EXPERIMENT = "leadscore"
CHAMPION = "champion"  # the version that is served
CHALLENGER = "challenger"  # the latest trained version, before or after the gate
# The name under which a bento carries the model in BentoML's own model store (bentofile.yaml
# repeats it: YAML cannot import it).
BENTO_MODEL_NAME = DEFAULT_MODEL_NAME

# Inside a logged model: the pyfunc's artifacts, by key, and their file names.
MODEL_ARTIFACT_PATH = "model"
SCORER_ARTIFACT = "scorer"
POLICY_ARTIFACT = "tier_policy"
SCORER_FILE = "scorer"  # a folder of data files (models.artifacts)
POLICY_FILE = "tier_policy.json"
PACKAGED_POLICY_PATH = f"artifacts/{POLICY_FILE}"  # relative to the logged model's root

# Of a training run: its report folder, the holdout predictions thresholds plan on, the gate's.
REPORT_ARTIFACT_DIR = "report"
HOLDOUT_FILE = "holdout_predictions.parquet"
HOLDOUT_ARTIFACT = f"{REPORT_ARTIFACT_DIR}/{HOLDOUT_FILE}"
# The promotion gate's report: what was compared, on how many leads, the figures, why.
GATE_REPORT_ARTIFACT = f"{REPORT_ARTIFACT_DIR}/gate.json"

# Model-version tag: the tier policy version served with that model version.
APPLIED_POLICY_TAG = "tier_policy_version"
# Model-version tag: SHA-256 of every file of the version, recorded at registration and checked
# before it is served (models.digests).
DIGESTS_TAG = "leadscore.artifacts_sha256"
# Model-version tags: the data window the version was fitted on, which the promotion gate
# compares outside of (training/gate.py, docs/modeling.md).
WINDOW_KIND_TAG = "data_window_kind"
WINDOW_COLUMN_TAG = "data_window_column"
WINDOW_START_TAG = "data_window_start"
WINDOW_END_TAG = "data_window_end"
WINDOW_CUTOFF_TAG = "data_window_cutoff"
WINDOW_LEADS_TAG = "data_window_leads"

# Run parameters the model card shows (with every `boundary_*`).
CARD_TRAINING_PARAMS = (
    "cutoff",
    "horizon_days",
    "snapshot_every_days",
    "snapshot_max_per_lead",
    "holdout_days",
    "validation_days",
    "calibration",
    "best_iteration",
)


def model_name(settings: Settings | None = None) -> str:
    """The registered model's name: LEADSCORE_MODEL_NAME, else `DEFAULT_MODEL_NAME`."""
    settings = settings or load_settings()
    return settings.model_name or DEFAULT_MODEL_NAME


def alias_uri(name: str, alias: str = CHAMPION) -> str:
    return f"models:/{name}@{alias}"


def version_uri(name: str, version: str) -> str:
    return f"models:/{name}/{version}"


def default_model_uri(settings: Settings | None = None) -> str:
    """What to score and serve unless told: LEADSCORE_MODEL_URI, else the name's @champion."""
    settings = settings or load_settings()
    return settings.model_uri or alias_uri(model_name(settings), CHAMPION)


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of `models:/name@alias` or `models:/name/version`."""
    rest = uri.removeprefix("models:/").rstrip("/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        return name, alias, None
    name, _, version = rest.partition("/")
    return name, None, version or None


def resolve_model_version(uri: str, client: Any | None = None) -> tuple[str, str]:
    """(name, version) that `models:/name@alias` or `models:/name/version` points at now."""
    if not uri.startswith("models:/"):
        raise ValueError(
            f"{uri} is not a registered model: tier policies attach to a registry version "
            "(models:/name/version or models:/name@alias)"
        )
    if client is None:
        from mlflow import MlflowClient

        client = MlflowClient()
    name, alias, version = parse_registry_uri(uri)
    if alias is not None:
        return name, str(client.get_model_version_by_alias(name, alias).version)
    if not version:
        raise ValueError(f"{uri} names no version or alias")
    return name, version


def set_alias(client: Any, name: str, alias: str, version: str) -> None:
    client.set_registered_model_alias(name, alias, version)
    log.info("%s@%s -> version %s", name, alias, version)


def default_store(workdir: Path | None = None) -> tuple[str, str | None]:
    """(tracking URI, artifact location) when MLFLOW_TRACKING_URI is not set: a SQLite store
    and an artifact folder in the working directory, the same for training, ops and serving."""
    workdir = (workdir or Path.cwd()).resolve()
    return f"sqlite:///{workdir / 'mlflow.db'}", (workdir / "mlartifacts").as_uri()


@dataclass(frozen=True)
class TrackingConfig:
    """Where MLflow writes and under which name models are registered."""

    tracking_uri: str
    artifact_location: str | None
    experiment: str
    model_name: str
    table_model_name: str = DEFAULT_TABLE_MODEL_NAME

    @classmethod
    def from_env(
        cls, workdir: Path | None = None, settings: Settings | None = None
    ) -> TrackingConfig:
        settings = settings or load_settings()
        uri = settings.tracking_uri
        default_uri, default_artifacts = default_store(workdir)
        return cls(
            tracking_uri=uri or default_uri,
            artifact_location=None if uri else default_artifacts,
            experiment=settings.experiment or DEFAULT_EXPERIMENT,
            model_name=model_name(settings),
            table_model_name=settings.table_model_name or DEFAULT_TABLE_MODEL_NAME,
        )

    def activate(self) -> str:
        """Point MLflow at this store; returns the experiment id."""
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        client = MlflowClient()
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            return str(experiment.experiment_id)
        return str(client.create_experiment(self.experiment, self.artifact_location))


@dataclass(frozen=True)
class ModelCard:
    """What the service tells about the model it serves (GET /model)."""

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


def _run_facts(client: Any, run_id: str | None) -> tuple[dict[str, Any], dict[str, float]]:
    if not run_id:
        return {}, {}
    run = client.get_run(run_id)
    params = run.data.params
    training: dict[str, Any] = {k: params[k] for k in CARD_TRAINING_PARAMS if k in params}
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
    return describe_version(uri, tracking_uri)[0]


def describe_version(uri: str, tracking_uri: str) -> tuple[ModelCard, dict[str, str]]:
    """`describe_uri`, and the registry version's tags (none when `uri` is not a version)."""
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
        card = ModelCard(
            name=name,
            version=str(found.version),
            alias=alias,
            uri=uri,
            run_id=found.run_id,
            training=training,
            holdout_metrics=metrics,
        )
        return card, dict(found.tags or {})
    run_id = uri.removeprefix("runs:/").split("/")[0] if uri.startswith("runs:/") else None
    training, metrics = _run_facts(client, run_id)
    card = ModelCard(
        name=Path(uri.rstrip("/")).name or "model",
        version=run_id or "local",
        alias=None,
        uri=uri,
        run_id=run_id,
        training=training,
        holdout_metrics=metrics,
    )
    return card, {}

"""One registered model for the marketing-ops tests, logged once per test session.

Logs what `leadscore train` logs that thresholds, the policy store and the closed-loop report
read back (run parameters, holdout predictions, the pyfunc model, the registry version and its
policy tag), without the training report, so it costs seconds instead of `log_run`'s tens.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from demo.world import DemoWorld, write_demo_world
from models.registry import (
    APPLIED_POLICY_TAG,
    CHAMPION,
    HOLDOUT_FILE,
    REPORT_ARTIFACT_DIR,
    TrackingConfig,
)
from training.evaluate import flatten_metrics
from training.pipeline import LIGHTGBM, TrainingResult
from training.tracking import lead_records, log_scorer_model, record_file_digests

MODEL_NAME = "lead-conversion-ops-test"


@dataclass(frozen=True)
class RegisteredModel:
    tracking: TrackingConfig
    name: str
    version: str
    run_id: str
    export_dir: Path
    root: Path

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def activate(self) -> MlflowClient:
        self.tracking.activate()
        return MlflowClient()


def run_params(result: TrainingResult) -> dict[str, str]:
    config, boundaries = result.config, result.examples.boundaries
    return {
        "cutoff": f"{result.examples.cutoff:%Y-%m-%dT%H:%M:%S}",
        "horizon_days": str(config.horizon_days),
        "holdout_days": str(config.split.holdout_days),
        "validation_days": str(config.split.validation_days),
        "snapshot_every_days": str(config.scheme.every_days),
        "snapshot_max_per_lead": str(config.scheme.max_snapshots),
        **{f"boundary_{k}": f"{v:%Y-%m-%d}" for k, v in boundaries.items()},
    }


def log_light_run(result: TrainingResult, world: DemoWorld) -> str:
    """On the active run: parameters, holdout metrics and predictions, the pyfunc model."""
    mlflow.log_params(run_params(result))
    mlflow.log_metrics(flatten_metrics(result.evaluations[LIGHTGBM].metrics, prefix="holdout_"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / HOLDOUT_FILE
        result.holdout.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=REPORT_ARTIFACT_DIR)
    leads = result.holdout["lead_id"].drop_duplicates().head(2).tolist()
    example = lead_records(world.export, leads, result.examples.cutoff)
    return log_scorer_model(result.scorer, example, result.examples.cutoff)


_CACHE: dict[tuple[int, str], RegisteredModel] = {}


def registered_model(
    result: TrainingResult, world: DemoWorld, name: str = MODEL_NAME
) -> RegisteredModel:
    """The session's registered model of `result` under `name`, in its own store (built once).

    Tests that change a version's policies (the web app's) take their own name, so they never
    see another test's policies.
    """
    key = (id(result), name)
    if key in _CACHE:
        return _CACHE[key]
    root = Path(tempfile.mkdtemp(prefix="leadscore-ops-test-"))
    tracking = TrackingConfig(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifact_location=(root / "mlartifacts").as_uri(),
        experiment="leadscore-ops-test",
        model_name=name,
    )
    experiment_id = tracking.activate()
    client = MlflowClient()
    export_dir = root / "export"
    write_demo_world(world, export_dir)
    with mlflow.start_run(experiment_id=experiment_id, run_name="train") as run:
        model_uri = log_light_run(result, world)
    version = str(mlflow.register_model(model_uri, name).version)
    record_file_digests(client, name, version)
    client.set_model_version_tag(name, version, APPLIED_POLICY_TAG, result.scorer.policy.version)
    client.set_registered_model_alias(name, CHAMPION, version)
    model = RegisteredModel(tracking, name, version, run.info.run_id, export_dir, root)
    _CACHE[key] = model
    return model

"""MLflow: one run per training, a self-contained pyfunc, registry aliases and the gate."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from cli.main import app
from demo.world import DemoWorld
from features.history import LeadHistory
from models.pyfunc import load_scorer_from_uri
from models.registry import CHALLENGER, CHAMPION, TrackingConfig
from tests.training.conftest import local_tracking
from tests.training.worse_challenger import replace_model_with_reversed
from training.pipeline import TrainingResult
from training.run import RunSummary, log_run
from training.tracking import lead_records, record_file_digests


@pytest.fixture(scope="module")
def logged(
    tmp_path_factory: pytest.TempPathFactory,
    trained: TrainingResult,
    small_world: DemoWorld,
    export_dir: Path,
) -> tuple[TrackingConfig, RunSummary]:
    tracking = local_tracking(tmp_path_factory.mktemp("mlflow"), "lead-conversion-test")
    return tracking, log_run(trained, small_world.export, export_dir, tracking)


def test_run_records_params_metrics_baselines_artifacts_and_tags(
    logged: tuple[TrackingConfig, RunSummary],
) -> None:
    tracking, summary = logged
    tracking.activate()
    client = MlflowClient()
    run = client.get_run(summary.run_id)
    assert run.data.params["horizon_days"] == "90"
    assert "boundary_holdout_start" in run.data.params
    assert run.data.params["snapshot_activity_share"] == "0.15"
    assert run.data.params["linear_weight_chosen"] in ("0.0", "0.5")
    assert run.data.metrics["activity_snapshots_train"] > 0
    assert 0.5 < run.data.metrics["holdout_roc_auc"] <= 1
    assert "holdout_roc_auc_ci_low" in run.data.metrics
    assert run.data.tags["data_fingerprint"]
    assert run.data.tags["git_commit"]
    nested = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{summary.run_id}'"
    )
    assert {r.data.params["model"] for r in nested} == {"points_score", "logistic_regression"}
    files = {f.path for f in client.list_artifacts(summary.run_id, "report")}
    assert {"report/report.html", "report/report.md", "report/holdout_predictions.parquet"} <= files
    assert any(path.endswith(".png") for path in files)
    inputs = {d.dataset.name for d in run.inputs.dataset_inputs}
    assert {"train_snapshots", "holdout_snapshots"} <= inputs


def test_first_model_becomes_champion_and_challenger(
    logged: tuple[TrackingConfig, RunSummary],
) -> None:
    tracking, summary = logged
    tracking.activate()
    client = MlflowClient()
    assert summary.gate.promoted
    for alias in (CHAMPION, CHALLENGER):
        assert client.get_model_version_by_alias(tracking.model_name, alias).version == 1


def test_pyfunc_returns_the_scorers_scores(
    logged: tuple[TrackingConfig, RunSummary],
    trained: TrainingResult,
    small_world: DemoWorld,
) -> None:
    tracking, _ = logged
    tracking.activate()
    model = mlflow.pyfunc.load_model(f"models:/{tracking.model_name}@{CHAMPION}")
    export = small_world.export
    leads = small_world.truth["lead_id"].head(25).tolist()
    records = lead_records(export, leads, export.cutoff)
    as_of = export.cutoff
    served = model.predict(records, params={"as_of": as_of.isoformat(), "explain": True})
    direct = trained.scorer.score(
        LeadHistory(
            export.leads,
            export.activities,
            pd.DataFrame({"lead_id": records["lead_id"], "as_of": as_of}),
        )
    )
    np.testing.assert_allclose(served["probability"], direct["probability"], rtol=1e-9)
    assert served["tier"].tolist() == direct["tier"].tolist()
    assert [list(r) for r in served["reasons_positive"]] == direct["reasons_positive"].tolist()
    assert (served["policy_version"] == trained.scorer.policy.version).all()


def test_worse_challenger_is_not_promoted_and_promote_rolls_back(
    tmp_path: Path,
    trained: TrainingResult,
    small_world: DemoWorld,
    export_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracking = local_tracking(tmp_path, "lead-conversion-test")
    first = log_run(trained, small_world.export, export_dir, tracking)
    assert first.gate.promoted
    # A challenger whose probabilities are reversed (tests/training/test_gate.py covers the
    # comparison itself; here the champion's window holds the whole holdout, so it is kept).
    broken_model = replace_model_with_reversed(trained)
    second = log_run(broken_model, small_world.export, export_dir, tracking)
    assert not second.gate.promoted
    client = MlflowClient()
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 1
    assert client.get_model_version_by_alias(tracking.model_name, CHALLENGER).version == 2
    run = client.get_run(second.run_id)
    assert run.data.tags["gate_promoted"] == "False"
    assert "no fair comparison" in run.data.tags["gate_reason"]

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking.tracking_uri)
    monkeypatch.setenv("LEADSCORE_MODEL_NAME", tracking.model_name)
    monkeypatch.setenv("LEADSCORE_EXPERIMENT", tracking.experiment)
    runner = CliRunner()
    forced = runner.invoke(app, ["promote", "2"])
    assert forced.exit_code == 0, forced.output
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 2
    back = runner.invoke(app, ["promote", "1"])
    assert back.exit_code == 0
    assert "was version 2" in back.output
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 1
    missing = runner.invoke(app, ["promote", "99"])
    assert missing.exit_code == 1
    assert "Cannot promote" in missing.output


def test_tracking_store_on_postgresql_registers_promotes_and_loads(
    tmp_path: Path,
    trained: TrainingResult,
    small_world: DemoWorld,
    export_dir: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MLFLOW_TRACKING_URI naming a PostgreSQL database directly (no tracking server)."""
    tracking = local_tracking(tmp_path, "lead-conversion-test", postgres_url)
    tracking = replace(tracking, artifact_location=(tmp_path / "mlartifacts").as_uri())
    summary = log_run(trained, small_world.export, export_dir, tracking)
    assert summary.gate.promoted
    client = MlflowClient(postgres_url, postgres_url)
    assert client.get_run(summary.run_id).data.metrics["holdout_roc_auc"] > 0.5
    first = client.get_model_version_by_alias(tracking.model_name, CHAMPION)
    second = client.create_model_version(tracking.model_name, first.source, run_id=first.run_id)
    # Registered as `leadscore train` registers: with its files' digests (loaders check them).
    record_file_digests(client, tracking.model_name, str(second.version))

    monkeypatch.setenv("MLFLOW_TRACKING_URI", postgres_url)
    monkeypatch.setenv("LEADSCORE_MODEL_NAME", tracking.model_name)
    monkeypatch.setenv("LEADSCORE_EXPERIMENT", tracking.experiment)
    promoted = CliRunner().invoke(app, ["promote", str(second.version)])
    assert promoted.exit_code == 0, promoted.output
    assert "was version 1" in promoted.output
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 2

    # The project's own loader resolves the alias through the PostgreSQL registry.
    served = load_scorer_from_uri(f"models:/{tracking.model_name}@{CHAMPION}")
    export = small_world.export
    leads = small_world.truth["lead_id"].head(5).tolist()
    history = LeadHistory(
        export.leads, export.activities, pd.DataFrame({"lead_id": leads, "as_of": export.cutoff})
    )
    np.testing.assert_allclose(
        served.score(history)["probability"], trained.scorer.score(history)["probability"]
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_logs_to_a_real_mlflow_server_on_postgresql(
    tmp_path: Path,
    trained: TrainingResult,
    small_world: DemoWorld,
    export_dir: Path,
    postgres_url: str,
) -> None:
    """The production layout (docs/deployment.md): a tracking server on PostgreSQL that
    proxies an artifact store; the project's code only knows the server's http:// URI."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            postgres_url,
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_HOST": "127.0.0.1"},
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("mlflow server did not start within 90 s")
                time.sleep(0.5)
        tracking = local_tracking(tmp_path, "lead-conversion-test", uri)
        summary = log_run(trained, small_world.export, export_dir, tracking)
        assert summary.gate.promoted
        client = MlflowClient(uri)
        assert client.get_run(summary.run_id).data.metrics["holdout_roc_auc"] > 0.5
        model = mlflow.pyfunc.load_model(f"models:/{tracking.model_name}@{CHAMPION}")
        export = small_world.export
        records = lead_records(export, small_world.truth["lead_id"].head(3).tolist(), export.cutoff)
        assert len(model.predict(records, params={"as_of": export.cutoff.isoformat()})) == 3
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

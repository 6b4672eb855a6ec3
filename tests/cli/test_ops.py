"""`leadscore thresholds` and `leadscore report` on a registered model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from cli.main import app
from demo.world import DemoWorld
from ops.policy_store import PolicyStore
from ops.prediction_log import PredictionLog, sqlite_url
from tests.ops.marketing_ops_support import RegisteredModel
from training.batch import open_leads
from training.pipeline import TrainingResult


def test_cli_records_and_applies_a_policy_for_the_model_version(
    model: RegisteredModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking.tracking_uri)
    monkeypatch.setenv("LEADSCORE_EXPERIMENT", model.tracking.experiment)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADSCORE_USER", "ops-test")
    report = tmp_path / "thresholds.html"
    result = CliRunner().invoke(
        app,
        [
            "thresholds",
            "--model",
            f"models:/{model.name}@champion",
            "--sql-capacity",
            "5",
            "--mql-recall",
            "0.6",
            "--reason",
            "SDR team of two",
            "--apply",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "(met)" in result.output and "Recorded tier policy" in result.output
    assert report.exists() and "<img" in report.read_text()
    store = PolicyStore(model.name, model.activate())
    applied = store.applied_version(model.version)
    stored = store.get(model.version, str(applied))
    assert stored.reason == "SDR team of two" and stored.author == "ops-test"
    assert stored.targets == {"sql_capacity": 5.0, "mql_recall": 0.6}
    assert stored.figures["tiers"]["SQL"]["leads_per_week"] <= 5.0
    served = store.served_policy(model.version, store.packaged_policy(model.version))
    assert served.version == applied != "1"

    # A fresh export instead of the holdout, without recording; then roll back to the packed one.
    fresh = CliRunner().invoke(
        app,
        [
            "thresholds",
            "--model",
            model.uri,
            "--data",
            str(model.export_dir),
            "--sql-share",
            "0.05",
            "--dry-run",
            "--report",
            str(tmp_path / "fresh.html"),
        ],
    )
    assert fresh.exit_code == 0, fresh.output
    assert "export cut-off" in fresh.output and "No policy recorded" in fresh.output
    assert store.applied_version(model.version) == applied
    back = CliRunner().invoke(app, ["thresholds", "--model", model.uri, "--apply-version", "1"])
    assert back.exit_code == 0, back.output
    assert store.applied_version(model.version) == "1"


def test_targets_out_of_range_are_refused(
    model: RegisteredModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking.tracking_uri)
    monkeypatch.setenv("LEADSCORE_EXPERIMENT", model.tracking.experiment)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["thresholds", "--model", model.uri, "--sql-precision", "2"])
    assert result.exit_code == 2
    # --apply without a target would record nothing to apply.
    result = CliRunner().invoke(app, ["thresholds", "--model", model.uri, "--apply"])
    assert result.exit_code == 2 and "--apply" in result.output


def test_cli_report_joins_logged_scores_and_logs_drift_to_mlflow(
    model: RegisteredModel,
    trained: TrainingResult,
    small_world: DemoWorld,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking.tracking_uri)
    monkeypatch.setenv("LEADSCORE_EXPERIMENT", model.tracking.experiment)
    monkeypatch.chdir(tmp_path)
    export = small_world.export
    store = PredictionLog(sqlite_url(tmp_path / "predictions.db"))
    # Scores a served model gave 120 days and 20 days before the export's cut-off.
    for days, limit in ((120, 1_500), (20, 200)):
        as_of = export.cutoff - pd.Timedelta(days=days)
        snapshots = open_leads(export, as_of).tail(limit)
        from features.history import LeadHistory

        scores = trained.scorer.score(
            LeadHistory(export.leads, export.activities, snapshots), explain=False
        )
        store.append(
            scores,
            model_name=model.name,
            model_version=model.version,
            policy_version="1",
            scored_at=as_of.to_pydatetime(),
        )
    out = tmp_path / "loop.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--predictions",
            str(tmp_path / "predictions.db"),
            "--data",
            str(model.export_dir),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SQL:" in result.output and "Score PSI" in result.output
    page = out.read_text()
    assert "Drift" in page and "Funnel" in page and page.count("<img") >= 2
    client = model.activate()
    [run] = client.search_runs(
        [client.get_experiment_by_name(model.tracking.experiment).experiment_id],
        "tags.`leadscore.report` = 'closed-loop'",
    )
    metrics = run.data.metrics
    assert metrics["realized_nurture_leads"] > 100 and metrics["censored_entries"] >= 100
    assert 0 <= metrics["drift_psi_score"] < 5
    assert "drift_psi_lead__age_days" in metrics and "drift_flagged" in metrics
    assert run.data.tags["model_version"] == model.version
    assert isinstance(client, MlflowClient)

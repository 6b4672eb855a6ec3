"""LEADSCORE_MODEL_NAME reaches the defaults of score, serve, thresholds and the service."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from serving.config import ServingConfig
from tests.ops.marketing_ops_support import RegisteredModel
from tests.serving.conftest import free_port


def test_score_without_model_scores_with_the_configured_names_champion(
    model: RegisteredModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking.tracking_uri)
    monkeypatch.setenv("LEADSCORE_MODEL_NAME", model.name)
    monkeypatch.delenv("LEADSCORE_MODEL_URI", raising=False)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["score", "--data", str(model.export_dir), "--out", str(out), "--no-reasons"]
    )
    assert result.exit_code == 0, result.output
    assert f"models:/{model.name}@champion" in result.output
    assert len(pd.read_csv(out)) > 0


@pytest.mark.parametrize("command", ["serve", "thresholds"])
def test_serve_and_thresholds_default_to_the_configured_name(
    model: RegisteredModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # A name with no registered model: the error names the URI the default resolved to.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking.tracking_uri)
    monkeypatch.setenv("LEADSCORE_MODEL_NAME", "no-such-model")
    monkeypatch.delenv("LEADSCORE_MODEL_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    args = ["serve", "--port", str(free_port())] if command == "serve" else ["thresholds"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "models:/no-such-model@champion" in result.output


def test_the_service_defaults_to_the_configured_name(tmp_path: Path) -> None:
    config = ServingConfig.from_env({"LEADSCORE_MODEL_NAME": "churn"}, workdir=tmp_path)
    assert config.model_uri == "models:/churn@champion"
    given = ServingConfig.from_env(
        {"LEADSCORE_MODEL_NAME": "churn", "LEADSCORE_MODEL_URI": "models:/churn/2"},
        workdir=tmp_path,
    )
    assert given.model_uri == "models:/churn/2"

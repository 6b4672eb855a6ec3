"""Model card, health and readiness, bearer auth, and start-up with a missing model."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow
import pytest

from features.contract import Export
from models.registry import CHAMPION
from serving.launch import ServeOptions, bentoml_command, server_env
from tests.serving.conftest import (
    MODEL_NAME,
    MODEL_URI,
    TOKEN,
    Server,
    TrainedModel,
    free_port,
    lead_payloads,
)

SCORE_BODY = {
    "leads": [{"lead_id": "a", "created_at": "2026-06-01T00:00:00Z"}],
    "as_of": "2026-06-30T00:00:00Z",
}


def test_model_endpoint_describes_the_served_version(
    server: Server, trained_model: TrainedModel
) -> None:
    response = server.client.get("/model")
    assert response.status_code == 200
    info = response.json()
    client = mlflow.MlflowClient(
        tracking_uri=trained_model.tracking_uri, registry_uri=trained_model.tracking_uri
    )
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    assert version.run_id is not None
    run = client.get_run(version.run_id)
    assert (info["name"], info["version"], info["alias"]) == (
        MODEL_NAME,
        str(version.version),
        CHAMPION,
    )
    assert info["run_id"] == version.run_id
    assert info["training"]["cutoff"] == run.data.params["cutoff"]
    assert info["training"]["horizon_days"] == run.data.params["horizon_days"]
    assert info["holdout_metrics"]["roc_auc"] == run.data.metrics["holdout_roc_auc"]
    assert info["holdout_metrics"]["log_loss"] == run.data.metrics["holdout_log_loss"]
    groups = {f["group"] for f in info["features"]}
    assert groups == {"fit", "engagement"}
    assert len(info["features"]) > 20
    policy = info["tier_policy"]
    assert 0 < policy["mql_threshold"] <= policy["sql_threshold"] < 1


def test_score_response_names_model_and_policy(
    server: Server, export: Export, trained_model: TrainedModel
) -> None:
    leads = lead_payloads(export, export.leads["lead_id"].head(3).tolist(), export.cutoff)
    response = server.client.post("/score", json={"leads": leads, "explain": False})
    assert response.status_code == 200
    payload = response.json()
    info = server.client.get("/model").json()
    assert payload["model"] == {
        "name": info["name"],
        "version": info["version"],
        "alias": CHAMPION,
        "policy_version": info["tier_policy"]["version"],
    }
    assert len(payload["scores"]) == 3
    # No as_of given: scored as of now, which is after every demo activity.
    assert payload["as_of"] > f"{export.cutoff:%Y-%m-%d}"


def test_health_and_readiness(server: Server) -> None:
    for path in ("/livez", "/healthz", "/readyz"):
        assert server.client.get(path).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": ""}],
    ids=["none", "wrong", "no-scheme", "empty"],
)
def test_scoring_and_model_need_the_token(auth_server: Server, headers: dict[str, str]) -> None:
    score = auth_server.client.post("/score", json=SCORE_BODY, headers=headers)
    assert score.status_code == 401
    assert score.json()["error"] == "unauthorized"
    assert auth_server.client.get("/model", headers=headers).status_code == 401


def test_the_token_opens_scoring_and_health_stays_open(auth_server: Server) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert auth_server.client.post("/score", json=SCORE_BODY, headers=headers).status_code == 200
    assert auth_server.client.get("/model", headers=headers).status_code == 200
    for path in ("/livez", "/readyz"):
        assert auth_server.client.get(path).status_code == 200
    spec = auth_server.client.get("/openapi.json", headers=headers).json()
    assert spec["paths"]["/score"]["post"]["security"] == [{"bearerAuth": []}]


def test_service_with_a_broken_model_fails_start_up_with_a_message(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "card.json").write_text("{}")
    options = ServeOptions(
        MODEL_URI,
        f"sqlite:///{tmp_path / 'empty.db'}",
        "127.0.0.1",
        free_port(),
        1,
    )
    env = server_env(options, broken)
    env.pop("LEADSCORE_API_TOKEN", None)
    completed = subprocess.run(
        bentoml_command(options),
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=os.getcwd(),
    )
    output = completed.stdout + completed.stderr
    # Respawned, failing each time, until the workers give up and stop the server, which
    # then exits with 1 (as `leadscore serve` does), not BentoML's 0 for a polite stop.
    assert "failed starts in a row; stopping the server" in output
    assert completed.returncode == 1, output[-2000:]
    assert "leadscore cannot start: cannot load the model in" in output
    assert str(broken) in output

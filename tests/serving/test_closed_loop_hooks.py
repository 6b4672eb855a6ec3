"""The service's closed-loop hooks: every returned score is logged before the answer, and a
newly applied tier policy is served without a restart (POST /reload, protected like scoring).

Runs its own registered model name (a copy of the session model's version), so applying a
policy here never changes what the other serving tests' servers serve.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

from features.contract import Export
from models.registry import APPLIED_POLICY_TAG, CHAMPION
from models.tiers import TierPolicy
from ops.policy_store import PolicyStore
from ops.prediction_log import read_predictions, sqlite_url
from serving.launch import ServeOptions, prepare
from tests.serving.conftest import (
    MODEL_NAME,
    TOKEN,
    Server,
    TrainedModel,
    lead_payloads,
    start_server,
    stop_server,
)
from training.tracking import record_file_digests

NAME = "lead-conversion-hooks"


def start_hooked(
    trained_model: TrainedModel, folder: Path, refresh_seconds: int
) -> tuple[Server, TrainedModel, Path, str]:
    """A server of a fresh registered version (a copy of the session model) that logs scores."""
    # create_model_version resolves a models:/ source through the global tracking store, which
    # other tests in this worker may have pointed elsewhere.
    mlflow.set_tracking_uri(trained_model.tracking_uri)
    mlflow.set_registry_uri(trained_model.tracking_uri)
    client = mlflow.MlflowClient(
        tracking_uri=trained_model.tracking_uri, registry_uri=trained_model.tracking_uri
    )
    source = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    if not client.search_registered_models(f"name = '{NAME}'"):
        client.create_registered_model(NAME)
    version = client.create_model_version(NAME, source.source, run_id=source.run_id)
    client.set_model_version_tag(NAME, version.version, APPLIED_POLICY_TAG, "1")
    record_file_digests(client, NAME, str(version.version))
    uri = f"models:/{NAME}/{version.version}"
    model = TrainedModel(trained_model.data_dir, trained_model.tracking_uri, uri)
    model_dir = folder / "model"
    prepare(ServeOptions(uri, model.tracking_uri, "127.0.0.1", 0, 1), model_dir)
    log_db = folder / "predictions.db"
    server = start_server(
        model,
        model_dir,
        folder / "server.log",
        {
            "LEADSCORE_PREDICTION_LOG": str(log_db),
            "LEADSCORE_API_TOKEN": TOKEN,
            "LEADSCORE_POLICY_REFRESH_SECONDS": str(refresh_seconds),
        },
    )
    return server, model, log_db, str(version.version)


@pytest.fixture()
def hooked(
    trained_model: TrainedModel, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Server, TrainedModel, Path, str]]:
    running = start_hooked(trained_model, tmp_path, getattr(request, "param", 3600))
    yield running
    stop_server(running[0])


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children first."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [*descendants(int(child)), int(child)]
    return found


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _score(server: Server, export: Export, lead_ids: list[str]) -> dict:
    leads = lead_payloads(export, lead_ids, export.cutoff)
    body = {"leads": leads, "as_of": f"{export.cutoff:%Y-%m-%dT%H:%M:%SZ}", "explain": False}
    response = server.client.post("/score", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def test_scores_are_logged_and_an_applied_policy_is_served_on_reload(
    hooked: tuple[Server, TrainedModel, Path, str], export: Export
) -> None:
    server, model, log_db, version = hooked
    ids = export.leads["lead_id"].iloc[-5:].tolist()
    first = _score(server, export, ids)
    assert first["model"]["policy_version"] == "1"
    logged = read_predictions(log_db)
    assert logged["lead_id"].tolist() == ids
    assert set(logged["model_name"]) == {NAME} and set(logged["model_version"]) == {version}
    assert set(logged["policy_version"]) == {"1"}
    served = [s["probability"] for s in first["scores"]]
    assert logged["probability"].tolist() == pytest.approx(served)
    assert logged["tier"].tolist() == [s["tier"] for s in first["scores"]]
    assert (logged["as_of"] == export.cutoff.floor("s")).all()

    client = mlflow.MlflowClient(tracking_uri=model.tracking_uri, registry_uri=model.tracking_uri)
    store = PolicyStore(NAME, client)
    stored = store.save(version, TierPolicy(0.0, 0.0), reason="everyone to sales (test)")
    store.apply(version, stored.version)
    assert server.client.post("/reload").status_code == 401
    reload = server.client.post("/reload", json={}, headers=AUTH)
    assert reload.status_code == 200
    assert reload.json() == {"policy_version": stored.version, "changed": True}

    second = _score(server, export, ids)
    assert second["model"]["policy_version"] == stored.version
    assert {s["tier"] for s in second["scores"]} == {"SQL"}
    assert server.client.get("/model", headers=AUTH).json()["tier_policy"]["version"] == "2"
    logged = read_predictions(log_db)
    assert logged["policy_version"].tolist() == ["1"] * 5 + [stored.version] * 5

    store.apply(version, "1")  # roll back: the packed policy is served again
    assert server.client.post("/reload", json={}, headers=AUTH).json()["policy_version"] == "1"


@pytest.mark.parametrize("hooked", [1], indirect=True)
def test_policy_is_picked_up_on_time_and_no_answered_score_is_lost_when_killed(
    hooked: tuple[Server, TrainedModel, Path, str], export: Export
) -> None:
    server, model, log_db, version = hooked
    store = PolicyStore(
        NAME, mlflow.MlflowClient(tracking_uri=model.tracking_uri, registry_uri=model.tracking_uri)
    )
    stored = store.save(version, TierPolicy(0.0, 0.0))
    store.apply(version, stored.version)
    # Checked every second, off the request path: served within a few requests, no restart.
    ids = export.leads["lead_id"].iloc[:1].tolist()
    deadline = pd.Timestamp.now() + pd.Timedelta(seconds=60)
    while _score(server, export, ids)["model"]["policy_version"] != stored.version:
        assert pd.Timestamp.now() < deadline, "the applied policy was not picked up"
        threading.Event().wait(0.2)

    lead_ids = export.leads["lead_id"].tolist()
    answered: list[str] = []
    stop = threading.Event()

    def client_loop(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(offset, len(lead_ids), 4):
                if stop.is_set():
                    return
                leads = lead_payloads(export, [lead_ids[i]], export.cutoff)
                try:
                    response = http.post(
                        "/score", json={"leads": leads, "explain": False}, headers=AUTH
                    )
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    answered.append(response.json()["scores"][0]["lead_id"])

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    deadline = pd.Timestamp.now() + pd.Timedelta(seconds=60)
    while len(answered) < 60 and pd.Timestamp.now() < deadline:
        threading.Event().wait(0.05)
    # The whole service, mid-request: the supervisor and its workers (their own groups).
    for pid in [*descendants(server.process.pid), server.process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    server.process.wait(timeout=30)
    assert len(answered) >= 60, "the service did not answer enough requests"
    logged = set(read_predictions(sqlite_url(log_db))["lead_id"])
    assert set(answered) <= logged

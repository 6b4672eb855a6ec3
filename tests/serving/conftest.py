"""A registered model trained on a small demo world, and the service running it on a free port.

The model is built once per test run (pytest-xdist workers share it through a lock file);
each worker that needs a server starts its own on 127.0.0.1 and stops it at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from features.contract import Export
from models.registry import CHAMPION, DEFAULT_MODEL_NAME, alias_uri
from serving.launch import ServeOptions, bentoml_command, prepare, server_env

MODEL_NAME = DEFAULT_MODEL_NAME
MODEL_URI = alias_uri(MODEL_NAME, CHAMPION)
TOKEN = "test-token-5b1e"
START_TIMEOUT_S = 90.0
HTTP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TrainedModel:
    data_dir: Path
    tracking_uri: str
    model_uri: str


@dataclass(frozen=True)
class Server:
    url: str
    client: httpx.Client
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _build_model(folder: Path) -> TrainedModel:
    from demo.world import DemoConfig, generate_demo_world, write_demo_world
    from models.registry import TrackingConfig
    from training.pipeline import TrainConfig, train
    from training.run import log_run

    world = generate_demo_world(DemoConfig(n_leads=6_000, seed=3))
    data_dir = folder / "demo"
    write_demo_world(world, data_dir)
    result = train(world.export, TrainConfig(n_bootstrap=20, reference_size=1_000))
    tracking = TrackingConfig(
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_location=(folder / "mlartifacts").as_uri(),
        experiment="leadscore-serving-tests",
        model_name=MODEL_NAME,
    )
    log_run(result, world.export, data_dir, tracking)
    return TrainedModel(data_dir, tracking.tracking_uri, MODEL_URI)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """Train and register once; xdist workers wait for whichever worker builds it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "serving-model"
    folder.mkdir(exist_ok=True)
    done = folder / "done.json"
    with (folder / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                model = _build_model(folder)
                done.write_text(json.dumps({"tracking_uri": model.tracking_uri}))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return TrainedModel(folder / "demo", json.loads(done.read_text())["tracking_uri"], MODEL_URI)


@pytest.fixture(scope="session")
def export(trained_model: TrainedModel) -> Export:
    from training.export import read_export

    return read_export(trained_model.data_dir).export


@pytest.fixture(scope="session")
def model_dir(trained_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served-model")
    prepare(_options(trained_model, 0), folder)
    return folder


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _options(model: TrainedModel, port: int) -> ServeOptions:
    return ServeOptions(model.model_uri, model.tracking_uri, "127.0.0.1", port, 1)


def start_server(
    model: TrainedModel, model_dir: Path, log_path: Path, extra_env: dict[str, str]
) -> Server:
    port = free_port()
    options = _options(model, port)
    env = server_env(options, model_dir)
    env.pop("LEADSCORE_API_TOKEN", None)
    env.update(extra_env)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            bentoml_command(options),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=HTTP_TIMEOUT_S)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited at start-up:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if client.get("/readyz", timeout=2).status_code == 200:
                return Server(url, client, process, log_path)
        time.sleep(0.2)
    stop_server(Server(url, client, process, log_path))
    raise RuntimeError(f"server not ready in {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    server.client.close()
    if server.process.poll() is None:
        os.killpg(server.process.pid, 15)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, 9)
            server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(
    trained_model: TrainedModel, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    running = start_server(trained_model, model_dir, log_path, {"LEADSCORE_STATS_SECONDS": "1"})
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def auth_server(
    trained_model: TrainedModel, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("auth-server") / "server.log"
    running = start_server(trained_model, model_dir, log_path, {"LEADSCORE_API_TOKEN": TOKEN})
    yield running
    stop_server(running)


def lead_payloads(export: Export, lead_ids: list[str], as_of: pd.Timestamp) -> list[dict[str, Any]]:
    """Leads as a CRM would post them: the MLflow model's records, without empty fields."""
    from training.tracking import lead_records

    records = lead_records(export, lead_ids, as_of).to_dict(orient="records")
    order = {lead: i for i, lead in enumerate(lead_ids)}
    records.sort(key=lambda r: order[r["lead_id"]])
    return [
        {str(k): v for k, v in r.items() if v is not None and not (isinstance(v, float) and v != v)}
        for r in records
    ]

"""The web app's test world: a registered model of its own, a prediction log, the real app.

The model is the session's small trained demo model (tests/conftest.py `trained`), registered
under its own name in its own MLflow store (marketing_ops_support), so applying policies here
never changes another test's. Its @challenger is a worse recipe trained on the demo world
exported 60 days later, registered and gated as training does (web_challenger); the gate keeps
the champion. The prediction log holds the scores the champion gives the export's open leads
120 and 20 days before its cut-off (ops.replay): the export is the "later export" of those
scores (the older ones have outcomes, the recent ones are censored).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from demo.world import DemoWorld
from ops.prediction_log import PredictionLog, sqlite_url
from ops.replay import replay_scores
from tests.processes import stop_process_group
from training.pipeline import TrainingResult

from .marketing_ops_support import RegisteredModel, registered_model
from .web_challenger import Challenger, register_challenger

UI_MODEL_NAME = "lead-conversion-ui-test"
TOKEN = "ui-test-token-7f3a"
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class UiWorld:
    model: RegisteredModel
    predictions: Path
    challenger: Challenger


_CHALLENGERS: dict[str, Challenger] = {}


def ui_world(trained: TrainingResult, world: DemoWorld) -> UiWorld:
    model = registered_model(trained, world, UI_MODEL_NAME)
    log_path = model.root / "predictions.db"
    if not log_path.exists():
        store = PredictionLog(sqlite_url(log_path))
        replay_scores(
            world.export,
            trained.scorer,
            store,
            model_name=model.name,
            model_version=model.version,
            leads_per_date=1_000,
        )
        store.close()
    if model.name not in _CHALLENGERS:
        _CHALLENGERS[model.name] = register_challenger(
            model, trained, world, len(world.export.leads)
        )
    return UiWorld(model, log_path, _CHALLENGERS[model.name])


def ui_env(world: UiWorld, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADSCORE_", "MLFLOW_"))}
    env |= {
        "MLFLOW_TRACKING_URI": world.model.tracking.tracking_uri,
        "LEADSCORE_MODEL_NAME": world.model.name,
        "LEADSCORE_USER": "ui-test-local",
    }
    if token:
        env["LEADSCORE_API_TOKEN"] = token
    return env


@dataclass(frozen=True)
class UiServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    import socket

    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_ui(world: UiWorld, folder: Path, token: str | None = TOKEN) -> UiServer:
    """`leadscore ui` as people start it, on a free loopback port, until `stop_ui`."""
    port = free_port()
    log_path = folder / "ui.log"
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "ui",
        "--port",
        str(port),
        "--predictions",
        str(world.predictions),
        "--data",
        str(world.model.export_dir),
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env=ui_env(world, token),
            cwd=folder,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"leadscore ui exited at start-up:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return UiServer(url, process, log_path)
        time.sleep(0.2)
    stop_ui(UiServer(url, process, log_path))
    raise RuntimeError(f"leadscore ui not ready in {START_TIMEOUT_S} s:\n{log_path.read_text()}")


def stop_ui(server: UiServer) -> None:
    stop_process_group(server.process, grace_s=20)


CLI_THRESHOLDS = re.compile(r"SQL threshold ([0-9.]+), MQL threshold ([0-9.]+)")


def cli_thresholds(output: str) -> tuple[str, str]:
    """The SQL and MQL thresholds `leadscore thresholds` printed (4 decimals, as the page)."""
    found = CLI_THRESHOLDS.search(output)
    assert found, output
    return found.group(1), found.group(2)

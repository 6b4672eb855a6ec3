"""Start the BentoML server for a registered model (what `leadscore serve` runs).

The model is resolved and downloaded once, here, before any worker starts: a missing or
broken model stops start-up with a message, and every worker serves the same version even
if the alias moves meanwhile.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from serving.config import MODEL_DIR_ENV
from serving.model_source import ModelCard, load_model_dir, prepare_model_dir

log = logging.getLogger(__name__)

SERVICE = "serving.service:LeadScoring"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServeOptions:
    model_uri: str
    tracking_uri: str
    host: str
    port: int
    workers: int


def bentoml_command(options: ServeOptions) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--working-dir",
        str(PROJECT_ROOT),
    ]


def server_env(
    options: ServeOptions, model_dir: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(
        {
            MODEL_DIR_ENV: str(model_dir),
            "LEADSCORE_MODEL_URI": options.model_uri,
            "MLFLOW_TRACKING_URI": options.tracking_uri,
            "LEADSCORE_WORKERS": str(options.workers),
            "BENTOML_DO_NOT_TRACK": "True",
            # As in BentoML's containers: a worker that dies (say, cannot load the model) ends
            # the server with an error instead of being respawned in a loop.
            "BENTOML_CONTAINERIZED": "true",
        }
    )
    return env


def prepare(options: ServeOptions, folder: Path) -> ModelCard:
    """Download and check the model; raises ModelLoadError with the reason."""
    card = prepare_model_dir(options.model_uri, options.tracking_uri, folder)
    load_model_dir(folder)
    return card


def run_server(options: ServeOptions, model_dir: Path) -> int:
    """Run BentoML in the foreground until it exits, Ctrl-C or SIGTERM; its exit code."""
    process = subprocess.Popen(
        bentoml_command(options), env=server_env(options, model_dir), cwd=PROJECT_ROOT
    )
    # Pass a polite stop on to the server, so no worker outlives this command.
    previous = signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(options: ServeOptions) -> int:
    with tempfile.TemporaryDirectory(prefix="leadscore-serve-") as tmp:
        prepare(options, Path(tmp))
        return run_server(options, Path(tmp))

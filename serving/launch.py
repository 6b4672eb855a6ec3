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

from models.registry import ModelCard
from models.settings import load_settings
from serving.config import MODEL_DIR_ENV, check_exposure
from serving.model_source import (
    REGISTRY_TIMEOUT_S,
    check_model_dir,
    prepare_model_dir,
)
from serving.startup import gave_up

log = logging.getLogger(__name__)

SERVICE = "serving.service:LeadScoring"
# The thresholds are high enough that an ordinary request (100 leads: buffers of tens to
# hundreds of KB) never maps or trims memory: 256 KiB / 1 MiB cost 11 % of the CPU of a
# 100-lead request in mmap, munmap and page faults (docs/benchmarks.md).
MALLOC_SETTINGS = {
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_MMAP_THRESHOLD_": str(4 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(64 * 1024 * 1024),
}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServeOptions:
    model_uri: str
    tracking_uri: str
    host: str
    port: int
    workers: int
    # Listen beyond loopback without LEADSCORE_API_TOKEN (a gateway authenticates instead).
    insecure: bool = False


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
        }
    )
    # BentoML respawns a worker that dies (killed, out of memory) unless it runs "in a
    # container"; here it must, so the server outlives one worker. A worker that cannot
    # start at all stops the server instead (see serving.startup.StartFailures).
    env.pop("BENTOML_CONTAINERIZED", None)
    # glibc keeps freed memory of large requests in its heaps (and raises its mmap threshold
    # after big frees, so later big buffers stay in them too): a fixed mmap threshold (bodies
    # and matrices of large requests are mapped, and unmapped when freed), few arenas and
    # `serving.memory.give_back` after large requests give memory back after a burst
    # (docs/benchmarks.md). An operator's own settings win.
    for name, value in MALLOC_SETTINGS.items():
        env.setdefault(name, value)
    return env


def prepare(
    options: ServeOptions, folder: Path, timeout_s: float = REGISTRY_TIMEOUT_S
) -> ModelCard:
    """Download and check the model; raises ModelLoadError with the reason.

    The check loads the model in a short-lived process: this one lives as long as the server
    and would otherwise keep the model's memory (hundreds of MB) for nothing.
    """
    card = prepare_model_dir(options.model_uri, options.tracking_uri, folder, timeout_s)
    check_model_dir(folder)
    return card


def run_server(options: ServeOptions, model_dir: Path) -> int:
    """Run BentoML in the foreground until it exits, Ctrl-C or SIGTERM; its exit code."""
    check_exposure(options.host, load_settings().token, options.insecure)
    process = subprocess.Popen(
        bentoml_command(options), env=server_env(options, model_dir), cwd=PROJECT_ROOT
    )
    # Pass a polite stop on to the server, so no worker outlives this command.
    previous = signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        code = process.wait()
        # Workers that could not start stop the server politely (exit 0): still a failure.
        return 1 if gave_up(process.pid) else code
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
    check_exposure(options.host, load_settings().token, options.insecure)
    with tempfile.TemporaryDirectory(prefix="leadscore-serve-") as tmp:
        prepare(options, Path(tmp))
        return run_server(options, Path(tmp))

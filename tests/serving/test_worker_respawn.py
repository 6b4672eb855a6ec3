"""A killed worker is replaced and the server stays up (issue 11, finding 5); the
`leadscore serve` parent never loads the model; the model's input example holds no real lead.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from features.contract import Export
from serving.model_source import MLFLOW_MODEL_DIR
from tests.serving.conftest import Server, TrainedModel, start_server, stop_server
from tests.serving.test_bad_requests import body, good_lead

CLIENTS = 3


def _workers(server: Server) -> list[psutil.Process]:
    found = []
    for process in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE and "_bentoml_impl.worker" in " ".join(
                process.cmdline()
            ):
                found.append(process)
        except psutil.Error:  # gone, or a zombie not reaped yet
            continue
    return found


def test_a_killed_worker_is_replaced_under_load(
    trained_model: TrainedModel, model_dir: Path, tmp_path: Path
) -> None:
    server = start_server(trained_model, model_dir, tmp_path / "server.log", {})
    content = json.dumps(body(good_lead())).encode()
    outcomes: list[bool] = []
    stop = threading.Event()

    def client() -> None:
        # A new connection per request: a kept-alive one to the dead worker is not in flight.
        while not stop.is_set():
            try:
                response = httpx.post(
                    f"{server.url}/score",
                    content=content,
                    headers={"Content-Type": "application/json"},
                    timeout=120,
                )
                outcomes.append(response.status_code == 200)
            except httpx.HTTPError:
                outcomes.append(False)

    try:
        (worker,) = _workers(server)
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        before = len(outcomes)
        worker.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 120
        replaced: list[psutil.Process] = []
        while time.monotonic() < deadline and not replaced:
            replaced = [p for p in _workers(server) if p.pid != worker.pid]
            time.sleep(0.2)
        assert replaced, server.log()[-3000:]
        # Load goes on until the new worker has answered plenty.
        mark = len(outcomes)
        while time.monotonic() < deadline and sum(outcomes[mark:]) < 30:
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(timeout=130)
        failures = outcomes.count(False)
        assert before > 0 and sum(outcomes[mark:]) >= 30, server.log()[-3000:]
        assert failures <= CLIENTS, (failures, len(outcomes))  # only those in flight
        assert server.process.poll() is None  # the server stayed up
        assert server.client.get("/readyz").status_code == 200
    finally:
        stop.set()
        stop_server(server)


def test_serve_parent_never_loads_the_model(trained_model: TrainedModel, tmp_path: Path) -> None:
    """`prepare` checks the model in a child process: the parent imports no LightGBM."""
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from serving.launch import ServeOptions, prepare\n"
        f"options = ServeOptions({trained_model.model_uri!r}, {trained_model.tracking_uri!r},"
        " '127.0.0.1', 0, 1)\n"
        # A generous registry wait: this test is about imports, not about a slow machine.
        f"card = prepare(options, Path({str(tmp_path / 'model')!r}), timeout_s=120)\n"
        "print(json.dumps({'version': card.version, 'lightgbm': 'lightgbm' in sys.modules,"
        " 'scorer': 'models.scorer' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["version"] == "1"
    assert not facts["lightgbm"] and not facts["scorer"]


def test_input_example_holds_no_real_lead(model_dir: Path, export: Export) -> None:
    example = json.loads((model_dir / MLFLOW_MODEL_DIR / "input_example.json").read_text())
    text = json.dumps(example)
    real_ids = set(export.leads["lead_id"].astype(str))
    columns = example.get("columns", [])
    rows = example.get("data", [])
    assert rows, example
    ids = [row[columns.index("lead_id")] for row in rows]
    assert not real_ids & {str(i) for i in ids}
    for domain in export.leads["email_domain"].dropna().astype(str).unique()[:200]:
        assert f'"{domain}"' not in text or domain.startswith("example")

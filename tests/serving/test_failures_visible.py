"""Failures visible and fast (issue 11, findings 4, 6, 9, 10): a locked prediction log or
registry is answered at once and named, start-up fails in bounded time with one clear line,
credentials never show, and one request sees one tier policy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.tiers import TierPolicy, assign_tier
from ops.prediction_log import PredictionLog, sqlite_url
from serving.app import ScoringAPI
from serving.config import ServingConfig
from serving.model_source import load_model_dir
from serving.schemas import ScoreRequest
from serving.score_input import ParsedBody, score_input
from serving.state import build_state
from tests.serving.conftest import Server, TrainedModel, free_port, start_server, stop_server
from tests.serving.test_bad_requests import body, good_lead, post

LEADSCORE = str(Path(sys.executable).parent / "leadscore")
SECRET = "pw-s3cret-9f2"


@pytest.fixture()
def logged_server(
    trained_model: TrainedModel, model_dir: Path, tmp_path: Path
) -> Iterator[tuple[Server, Path]]:
    log_db = tmp_path / "predictions.db"
    running = start_server(
        trained_model,
        model_dir,
        tmp_path / "server.log",
        {
            "LEADSCORE_PREDICTION_LOG": str(log_db),
            "LEADSCORE_LOG_TIMEOUT_SECONDS": "0.5",
            "LEADSCORE_LOG_RETRY_SECONDS": "2",
        },
    )
    yield running, log_db
    stop_server(running)


def test_locked_prediction_log_is_answered_at_once_and_named(
    logged_server: tuple[Server, Path],
) -> None:
    server, log_db = logged_server
    assert post(server, body(good_lead("before"))).status_code == 200
    holder = sqlite3.connect(log_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        first = post(server, body(good_lead("during")))
        assert first.status_code == 503 and first.json()["error"] == "log_unavailable"
        assert time.monotonic() - started < 5  # was 30 s per request
        started = time.monotonic()
        again = post(server, body(good_lead("during-2")))
        assert again.status_code == 503 and int(again.headers["retry-after"]) >= 1
        assert time.monotonic() - started < 0.5  # the breaker answers without waiting
        assert server.client.get("/readyz").status_code == 503  # load balancers stop
        deadline = time.monotonic() + 10
        while "prediction log cannot be written: locked" not in server.log():
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    time.sleep(2.2)
    assert post(server, body(good_lead("after"))).status_code == 200
    assert server.client.get("/readyz").status_code == 200
    logged = PredictionLog(sqlite_url(log_db)).read()
    assert sorted(logged["lead_id"]) == ["after", "before"]  # nothing answered 503 was kept


def test_reload_says_when_the_registry_cannot_be_read(
    trained_model: TrainedModel, model_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "mlflow.db"
    shutil.copy(trained_model.tracking_uri.removeprefix("sqlite:///"), store)
    server = start_server(
        trained_model,
        model_dir,
        tmp_path / "server.log",
        {"MLFLOW_TRACKING_URI": f"sqlite:///{store}", "LEADSCORE_REGISTRY_TIMEOUT_SECONDS": "3"},
    )
    try:
        assert server.client.post("/reload", json={}).status_code == 200
        holder = sqlite3.connect(store, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            response = server.client.post("/reload", json={})
            assert time.monotonic() - started < 8  # was 20 s
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert response.status_code == 503, response.text
        answer = response.json()
        assert answer["error"] == "registry_unavailable"
        assert "still serving tier policy" in answer["message"]
        # Scoring went on meanwhile, on its own threads.
        assert post(server, body(good_lead())).status_code == 200
    finally:
        stop_server(server)


def _request(payload: dict[str, Any]) -> ParsedBody:
    """The body as BentoML hands it to the endpoint."""
    return score_input(ScoreRequest).model_validate_json(json.dumps(payload).encode())


def test_one_policy_per_request_even_when_it_switches_midway(
    model_dir: Path, tmp_path: Path
) -> None:
    """The policy version answered, the tiers answered and what the log keeps always agree."""
    served = load_model_dir(model_dir)
    config = ServingConfig.from_env({}, tmp_path)
    switched = TierPolicy(sql_threshold=0.0, mql_threshold=0.0, version="2")
    leads = [good_lead(f"L{i}") for i in range(20)]
    for i, lead in enumerate(leads):
        lead["company_size"] = 10 * (i + 1) ** 3

    async def scored(turns: int, log: PredictionLog) -> dict[str, Any]:
        api = ScoringAPI()
        api.attach(build_state(served, config), config, log)
        task = asyncio.create_task(api.score(_request(body(*leads))))
        for _ in range(turns):
            await asyncio.sleep(0)
        api.apply_policy(switched)
        response = await task
        await api.shutdown()
        assert response.status_code == 200
        return json.loads(bytes(response.body))

    policies = {"1": served.scorer.policy, "2": switched}
    seen = set()
    for turns in range(12):
        log = PredictionLog(sqlite_url(tmp_path / f"log-{turns}.db"))
        answer = asyncio.run(scored(turns, log))
        version = answer["model"]["policy_version"]
        seen.add(version)
        probability = [s["probability"] for s in answer["scores"]]
        tiers = [s["tier"] for s in answer["scores"]]
        assert tiers == assign_tier(probability, policies[version]).tolist()
        logged = log.read()
        assert set(logged["policy_version"]) == {version}, turns
        assert logged["tier"].tolist() == tiers
    assert seen == {"1", "2"}  # the switch landed before and during requests


@contextlib.contextmanager
def _black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung registry)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def _serve(env: dict[str, str], timeout: float = 120) -> tuple[int, str, float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LEADSCORE_", "MLFLOW_"))}
    process = subprocess.Popen(
        [LEADSCORE, "serve", "--port", str(free_port())],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        os.killpg(process.pid, 9)
        process.communicate()
        raise AssertionError(f"leadscore serve still running after {timeout} s") from exc
    return process.returncode, out + err, time.monotonic() - started


def test_unreachable_registry_fails_in_bounded_time_naming_it_without_password() -> None:
    with _black_hole() as port:
        code, output, _ = _serve(
            {
                "MLFLOW_TRACKING_URI": f"http://leadscore:{SECRET}@127.0.0.1:{port}",
                "LEADSCORE_REGISTRY_TIMEOUT_SECONDS": "3",
            },
            timeout=90,  # was over 200 s of retries
        )
    assert code == 1
    assert f"127.0.0.1:{port}" in output and "did not answer within 3 s" in output
    assert SECRET not in output
    assert "Traceback" not in output


def test_database_registry_password_is_never_printed() -> None:
    code, output, _ = _serve(
        {"MLFLOW_TRACKING_URI": f"postgresql://leadscore:{SECRET}@127.0.0.1:{free_port()}/mlflow"}
    )
    assert code == 1 and "Cannot serve" in output
    assert SECRET not in output


def test_bad_prediction_log_setting_names_the_variable(tmp_path: Path) -> None:
    code, output, _ = _serve(
        {
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "LEADSCORE_PREDICTION_LOG": f"nosuchdb://leadscore:{SECRET}@somewhere/x",
        }
    )
    assert code == 2
    assert "LEADSCORE_PREDICTION_LOG" in output
    assert SECRET not in output and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1


def test_a_bad_number_setting_names_the_variable(tmp_path: Path) -> None:
    code, output, _ = _serve(
        {
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "LEADSCORE_LOG_TIMEOUT_SECONDS": "soon",
        }
    )
    assert code == 2 and "LEADSCORE_LOG_TIMEOUT_SECONDS" in output and "Traceback" not in output


def test_a_mistyped_sqlite_store_is_never_created(tmp_path: Path) -> None:
    typo = tmp_path / "mlfow.db"
    code, output, _ = _serve({"MLFLOW_TRACKING_URI": f"sqlite:///{typo}"})
    assert code == 1 and "no MLflow store" in output
    assert not typo.exists()


def test_worker_log_hides_credentials(
    trained_model: TrainedModel, model_dir: Path, tmp_path: Path
) -> None:
    """Started without `leadscore serve`, a worker that cannot open its log says why once."""
    log_path = tmp_path / "server.log"
    target = f"postgresql+psycopg://leadscore:{SECRET}@127.0.0.1:{free_port()}/predictions"
    with pytest.raises(RuntimeError):
        server = start_server(
            trained_model, model_dir, log_path, {"LEADSCORE_PREDICTION_LOG": target}
        )
        stop_server(server)
    log = log_path.read_text()
    assert "LEADSCORE_PREDICTION_LOG" in log and "leadscore:***@127.0.0.1" in log
    assert SECRET not in log

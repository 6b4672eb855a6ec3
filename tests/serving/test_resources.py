"""Resources bounded (finding 3): a worker holds at most LEADSCORE_MAX_IN_FLIGHT requests and
answers the rest 503 with Retry-After at once; bodies have a sensible default limit."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx

from serving.config import ServingConfig
from tests.serving.conftest import TrainedModel, start_server, stop_server
from tests.serving.test_bad_requests import body, good_lead


def test_default_body_limit_is_a_few_megabytes() -> None:
    assert ServingConfig.from_env({}).max_body_bytes == 8 * 1024 * 1024


def test_requests_beyond_the_in_flight_cap_get_503_with_retry_after(
    trained_model: TrainedModel, model_dir: Path, tmp_path: Path
) -> None:
    server = start_server(
        trained_model, model_dir, tmp_path / "server.log", {"LEADSCORE_MAX_IN_FLIGHT": "2"}
    )
    content = json.dumps(body(*[good_lead(f"L{i}") for i in range(1_000)])).encode()
    answers: list[httpx.Response] = []
    start = threading.Barrier(12)

    def send() -> None:
        start.wait()
        answers.append(
            httpx.post(
                f"{server.url}/score",
                content=content,
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
        )

    try:
        threads = [threading.Thread(target=send) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        statuses = sorted(a.status_code for a in answers)
        assert len(statuses) == 12
        assert set(statuses) == {200, 503}, statuses
        for answer in answers:
            if answer.status_code == 503:
                assert answer.json()["error"] == "overloaded"
                assert answer.headers["retry-after"] == "1"
        # Nothing stays counted: a later request is served.
        single = server.client.post(
            "/score", content=content, headers={"Content-Type": "application/json"}
        )
        assert single.status_code == 200
    finally:
        stop_server(server)

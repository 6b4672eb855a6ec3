"""Secure by default (issue 11, finding 7): browsers cannot post, the token guards every route
but health, the Host header is never reflected, and open listening needs `--insecure`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from serving.config import ConfigError, check_exposure
from tests.serving.conftest import TOKEN, Server, free_port
from tests.serving.test_bad_requests import body, good_lead

LEADSCORE = str(Path(sys.executable).parent / "leadscore")


def test_score_without_content_type_is_refused(server: Server) -> None:
    """A page's `fetch(..., {body})` sends text/plain without a preflight: refused."""
    content = json.dumps(body(good_lead())).encode()
    for headers in (
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        response = server.client.post("/score", content=content, headers=headers)
        assert response.status_code == 415, (headers, response.text)
        assert response.json()["error"] == "unsupported_media_type"


def test_reload_needs_json_content_type(server: Server) -> None:
    response = server.client.post("/reload", content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    response = server.client.post("/reload", json={})
    assert response.status_code == 200


def test_bearer_scheme_in_any_case(auth_server: Server) -> None:
    content = json.dumps(body(good_lead())).encode()
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = auth_server.client.post(
            "/score",
            content=content,
            headers={"Content-Type": "application/json", "Authorization": f"{scheme} {TOKEN}"},
        )
        assert response.status_code == 200, (scheme, response.text)
    wrong = auth_server.client.post(
        "/score",
        content=content,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {TOKEN}"},
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "path", ["/docs.json", "/schema.json", "/openapi.json", "/model", "/", "/metrics"]
)
def test_token_guards_every_route_but_health(auth_server: Server, path: str) -> None:
    assert auth_server.client.get(path).status_code == 401
    assert auth_server.client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    allowed = auth_server.client.get(path, headers={"Authorization": f"bearer {TOKEN}"})
    assert allowed.status_code != 401


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
def test_health_and_readiness_stay_open(auth_server: Server, path: str) -> None:
    assert auth_server.client.get(path).status_code == 200


def test_host_header_is_never_reflected(server: Server) -> None:
    content = json.dumps(body(good_lead())).encode()
    for path in ("/score/", "/model/", "/reload/"):
        response = server.client.post(
            path,
            content=content,
            headers={"Content-Type": "application/json", "Host": "evil.example"},
            follow_redirects=False,
        )
        location = response.headers.get("location", "")
        assert "evil.example" not in location, (path, response.headers)
        assert not location or location.startswith("/")
        assert "evil.example" not in response.text


def test_open_listening_needs_a_token_or_insecure() -> None:
    check_exposure("127.0.0.1", None, insecure=False)
    check_exposure("::1", None, insecure=False)
    check_exposure("localhost", None, insecure=False)
    check_exposure("0.0.0.0", "a-token", insecure=False)
    check_exposure("0.0.0.0", None, insecure=True)
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.com"):
        with pytest.raises(ConfigError, match="LEADSCORE_API_TOKEN"):
            check_exposure(host, None, insecure=False)


def test_leadscore_serve_refuses_an_open_address_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LEADSCORE_API_TOKEN"}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = subprocess.Popen(
        [LEADSCORE, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired as exc:  # it served: the defect this test is about
        os.killpg(process.pid, 9)
        process.communicate()
        raise AssertionError("leadscore serve listened on 0.0.0.0 without a token") from exc
    assert process.returncode != 0
    assert "LEADSCORE_API_TOKEN" in stderr and "--insecure" in stderr
    assert "Traceback" not in stderr


def test_no_token_no_guard(server: Server) -> None:
    """Without a token the docs stay readable (a loopback-only service)."""
    assert server.client.get("/docs.json").status_code == 200
    assert isinstance(server.client, httpx.Client)


def test_reload_is_documented(server: Server) -> None:
    """Finding 11: /reload was missing from the OpenAPI document and docs/api.md."""
    spec = server.client.get("/openapi.json").json()
    assert "post" in spec["paths"]["/reload"]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    assert "/reload" in docs

"""Who can read and change what in `leadscore ui`: sign-in, sessions, cross-site writes, loopback.

The real app (Starlette, in process) on an empty MLflow store: access control does not depend
on what the registry holds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

import ops.web.app
from cli.main import app as cli_app
from models.registry import TrackingConfig
from ops.web.access import SESSION_COOKIE, Sessions
from ops.web.app import create_app
from ops.web.settings import UiConfigError, UiSettings

TOKEN = "access-test-token-91c2"
LOCAL = "http://127.0.0.1:8080"


def settings(tmp_path: Path, token: str | None, host: str = "127.0.0.1") -> UiSettings:
    tracking = TrackingConfig(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=(tmp_path / "mlartifacts").as_uri(),
        experiment="ui-access-test",
        model_name="no-such-model",
    )
    return UiSettings(tracking=tracking, host=host, api_token=token)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One empty MLflow store for the module (creating one costs seconds)."""
    return tmp_path_factory.mktemp("ui-access")


@pytest.fixture()
def signed_out(store: Path) -> TestClient:
    return TestClient(create_app(settings(store, TOKEN)), base_url=LOCAL)


def sign_in(client: TestClient, name: str = "Dana", token: str = TOKEN) -> str:
    response = client.post(
        "/sign-in",
        data={"name": name, "token": token, "next": "/model"},
        headers={"Origin": LOCAL},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["set-cookie"]


def csrf_token(client: TestClient) -> str:
    page = client.get("/thresholds").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_without_a_token_the_app_serves_loopback_only(store: Path) -> None:
    tmp_path = store
    with pytest.raises(UiConfigError, match="this machine only"):
        settings(tmp_path, None, host="0.0.0.0")
    settings(tmp_path, TOKEN, host="0.0.0.0")  # with sign-in it may listen anywhere
    result = CliRunner().invoke(
        cli_app, ["ui", "--host", "0.0.0.0"], env={"LEADSCORE_API_TOKEN": ""}
    )
    assert result.exit_code == 2 and "this machine only" in result.output
    # A page on another site cannot reach the loopback app through a rebound host name.
    client = TestClient(create_app(settings(tmp_path, None)), base_url="http://attacker.example")
    assert client.get("/thresholds").status_code == 421
    local = TestClient(create_app(settings(tmp_path, None)), base_url=LOCAL)
    page = local.get("/thresholds")
    assert page.status_code == 200 and "this machine only" in page.text


def test_with_a_token_nothing_is_readable_before_signing_in(signed_out: TestClient) -> None:
    for path in ("/thresholds", "/closed-loop", "/closed-loop/content", "/model", "/"):
        response = signed_out.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/sign-in?next=")
    fragment = signed_out.get("/thresholds/preview", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/sign-in")
    assert signed_out.get("/static/vendor/htmx.min.js").status_code == 200
    form = signed_out.get("/sign-in")
    assert form.status_code == 200 and 'type="password"' in form.text
    assert "content-security-policy" in form.headers


def test_sign_in_sets_an_http_only_session_cookie(signed_out: TestClient) -> None:
    wrong = signed_out.post(
        "/sign-in", data={"name": "Dana", "token": "guess"}, headers={"Origin": LOCAL}
    )
    assert wrong.status_code == 401 and "do not sign you in" in wrong.text
    assert SESSION_COOKIE not in signed_out.cookies
    cookie = sign_in(signed_out)
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = signed_out.get("/thresholds")
    assert page.status_code == 200 and "Signed in as <strong>Dana</strong>" in page.text
    # Only a local path is followed after signing in.
    response = signed_out.post(
        "/sign-in",
        data={"name": "Dana", "token": TOKEN, "next": "//evil.example/x"},
        headers={"Origin": LOCAL},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_writes_need_the_session_csrf_token_and_the_apps_own_origin(
    signed_out: TestClient,
) -> None:
    sign_in(signed_out)
    token = csrf_token(signed_out)
    form = {"version": "1", "policy_version": "1"}
    cross_site = signed_out.post(
        "/thresholds/rollback",
        data={**form, "csrf_token": token},
        headers={"Origin": "http://evil.example"},
    )
    assert cross_site.status_code == 403
    fetched = signed_out.post(
        "/thresholds/rollback",
        data={**form, "csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert fetched.status_code == 403
    no_token = signed_out.post("/thresholds/rollback", data=form, headers={"Origin": LOCAL})
    assert no_token.status_code == 403 and "reload" in no_token.text
    signed_out.post(
        "/sign-out", data={"csrf_token": token}, headers={"Origin": LOCAL}, follow_redirects=False
    )
    assert signed_out.get("/model", follow_redirects=False).status_code == 303
    # The signed-out session's token opens nothing.
    stale = signed_out.post(
        "/thresholds/rollback",
        data={**form, "csrf_token": token},
        headers={"Origin": LOCAL},
        follow_redirects=False,
    )
    assert stale.status_code == 303 and stale.headers["location"].startswith("/sign-in")


def test_an_empty_registry_says_what_to_do(store: Path) -> None:
    client = TestClient(create_app(settings(store, None)), base_url=LOCAL)
    page = client.get("/thresholds").text
    assert "has no" in page and "make run" in page
    assert "has no champion" in client.get("/model").text
    missing = client.get("/closed-loop/content").text
    assert "--predictions" in missing


def test_sessions_stay_bounded_when_clients_drop_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ops.web.access.MAX_SESSIONS", 5)
    sessions = Sessions()
    opened = [sessions.open("local", signed_in=False)[0] for _ in range(12)]
    assert len(sessions) == 5
    assert sessions.get(opened[-1]) is not None and sessions.get(opened[0]) is None


def test_every_script_style_and_image_comes_from_the_app_itself(store: Path) -> None:
    """No CDN: the templates and stylesheet name only the app's own /static files, all there
    (the browser tests also check that a page asks nothing of another host)."""
    web = Path(ops.web.app.__file__).parent
    client = TestClient(create_app(settings(store, None)), base_url=LOCAL)
    for source in [*web.glob("templates/*.html"), web / "static" / "app.css"]:
        text = source.read_text()
        found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)|url\(\s*["']?([^"')]+)""", text)
        references = [a or b for a, b in found]
        assert not [r for r in references if re.match(r"(?:[a-z]+:)?//", r)], source
        for ref in references:
            if ref.startswith("/static/"):
                assert client.get(ref).status_code == 200, (source.name, ref)
    scripts = re.findall(r'<script src="([^"]+)"', (web / "templates" / "base.html").read_text())
    assert scripts == [
        "/static/vendor/htmx.min.js",
        "/static/vendor/chart.umd.min.js",
        "/static/app.js",
    ]

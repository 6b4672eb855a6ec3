"""`leadscore ui` in a real browser (Playwright driving Debian's Chromium), beside the real
scoring service: sign in, move the capacity control and get the CLI's thresholds, apply with a
reason and see the service serve the new policy, roll back, read the closed loop and the model
(champion beside its challenger); a slow answer shows the loading state; every control is
labelled and the thresholds can be set by keyboard.

With LEADSCORE_UI_SCREENSHOTS=DIR the pages are also saved as PNG (`make ui-screenshots`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from typer.testing import CliRunner

from cli.main import app as cli_app
from demo.world import DemoWorld
from serving.launch import ServeOptions, prepare
from tests.browser import CHROMIUM_ARGS, chromium_path
from tests.serving.conftest import Server, TrainedModel, lead_payloads, start_server, stop_server
from training.pipeline import TrainingResult

from .web_support import TOKEN, UiServer, UiWorld, cli_thresholds, start_ui, stop_ui, ui_world

LAPTOP = {"width": 1366, "height": 800}
SCREENSHOTS = os.environ.get("LEADSCORE_UI_SCREENSHOTS")
NAME = "Sam from marketing ops"


@pytest.fixture(scope="module")
def world(trained: TrainingResult, small_world: DemoWorld) -> UiWorld:
    return ui_world(trained, small_world)


@pytest.fixture(scope="module")
def ui(world: UiWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    running = start_ui(world, tmp_path_factory.mktemp("ui"), token=TOKEN)
    yield running
    stop_ui(running)


@pytest.fixture(scope="module")
def service(world: UiWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real scoring service on the UI's model, checking the applied policy every second."""
    folder = tmp_path_factory.mktemp("ui-service")
    model = TrainedModel(world.model.export_dir, world.model.tracking.tracking_uri, world.model.uri)
    prepare(ServeOptions(model.model_uri, model.tracking_uri, "127.0.0.1", 0, 1), folder / "m")
    running = start_server(
        model, folder / "m", folder / "server.log", {"LEADSCORE_POLICY_REFRESH_SECONDS": "1"}
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = chromium_path()
    assert chromium, "Chromium is needed: .ci/run installs Debian's package"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser, ui: UiServer) -> Iterator[Page]:
    """A fresh signed-out browser context; every request it makes is checked to stay local."""
    context = browser.new_context(viewport=LAPTOP, base_url=ui.url)
    opened = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    opened.on("request", lambda r: requests.append(r.url))
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield opened
    context.close()
    assert [u for u in requests if not u.startswith((ui.url, "data:"))] == []  # works offline
    assert errors == [], errors


def sign_in(page: Page) -> None:
    page.goto("/thresholds")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fthresholds$"))
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("Access token").fill(TOKEN)
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Signed in as {NAME}")).to_be_visible()


def charts_drawn(page: Page, expected: int) -> bool:
    """Waits until Chart.js holds `expected` charts (drawn after the swap settles)."""
    page.wait_for_function(
        "n => window.Chart && Object.keys(window.Chart.instances).length === n", arg=expected
    )
    return True


def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(300)  # charts finish drawing
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def served_policy(service: Server, world: UiWorld, wanted: str, timeout_s: float = 30) -> Any:
    """The service's next responses until they name `wanted` (it checks every second)."""
    export = world.model.export_dir
    from training.export import read_export

    data = read_export(export).export
    leads = lead_payloads(data, data.leads["lead_id"].iloc[-3:].tolist(), data.cutoff)
    body = {"leads": leads, "as_of": f"{data.cutoff:%Y-%m-%dT%H:%M:%SZ}", "explain": False}
    deadline = time.monotonic() + timeout_s
    while True:
        answer = service.client.post("/score", json=body).json()
        if answer["model"]["policy_version"] == wanted or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def test_capacity_apply_and_rollback_reach_the_scoring_service(
    page: Page,
    world: UiWorld,
    service: Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if SCREENSHOTS:
        page.goto("/sign-in")
        shot(page, "sign-in")
    sign_in(page)
    slider = page.locator("#sql_capacity_slider")
    expect(
        page.get_by_label("SQL capacity: SQLs per week sales can work, at most").first
    ).to_be_visible()
    slider.focus()
    with page.expect_response(lambda r: "/thresholds/preview" in r.url):
        for _ in range(6):  # the keyboard moves it, as a person would
            page.keyboard.press("ArrowRight")
    expect(page.locator("#use_sql_capacity")).to_be_checked()
    capacity = page.locator("#sql_capacity").input_value()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.model.tracking.tracking_uri)
    cli = CliRunner().invoke(
        cli_app,
        [
            "thresholds",
            "--model",
            world.model.uri,
            "--sql-capacity",
            capacity,
            "--dry-run",
            "--report",
            os.devnull,
        ],
    )
    assert cli.exit_code == 0, cli.output
    sql, mql = cli_thresholds(cli.output)
    expect(page.locator("#sql-threshold")).to_have_text(sql)
    expect(page.locator("#mql-threshold")).to_have_text(mql)
    assert float(page.locator("#sql-per-week").inner_text()) <= float(capacity)
    expect(page.locator(".outcomes li.met")).to_have_count(1)
    assert charts_drawn(page, 2)  # score distribution and gains, redrawn after the update
    shot(page, "thresholds")

    page.get_by_label("Why (kept with the policy; sales will read it)").fill("3 SDRs in Q3 (test)")
    page.get_by_role("button", name="Record and apply").click()
    expect(page.get_by_role("status").filter(has_text="recorded and applied")).to_be_visible()
    applied = page.locator("#applied-version").inner_text().removeprefix("policy ")
    row = page.locator(f'#history-table tr[data-policy="{applied}"]')
    expect(row).to_contain_text(NAME)
    expect(row).to_contain_text("3 SDRs in Q3 (test)")
    expect(row).to_contain_text(sql)
    answer = served_policy(service, world, applied)
    assert answer["model"]["policy_version"] == applied
    policy = service.client.get("/model").json()["tier_policy"]
    assert f"{policy['sql_threshold']:.4f}" == sql

    page.get_by_role("button", name="Serve policy 1 again").click()
    expect(page.locator("#applied-version")).to_have_text("policy 1")
    shot(page, "thresholds-history")
    assert served_policy(service, world, "1")["model"]["policy_version"] == "1"


def test_closed_loop_and_model_pages_read_the_log_and_the_registry(
    page: Page, world: UiWorld
) -> None:
    sign_in(page)
    page.get_by_role("link", name="Closed loop").click()
    expect(page.locator("#tier-table")).to_be_visible(timeout=120_000)
    for tier in ("SQL", "MQL", "nurture"):
        expect(page.locator(f'#tier-table tr[data-tier="{tier}"]')).to_be_visible()
    expect(page.locator("#chart-calibration")).to_be_visible()
    assert charts_drawn(page, 3)  # per tier, per week, calibration
    expect(page.locator("#weekly-table tbody tr").first).to_be_visible()  # realised per week
    expect(page.get_by_role("columnheader", name="Opportunity").first).to_be_visible()
    expect(page.locator("#drift-table tbody tr").first).to_contain_text("score")
    examples = page.locator("#examples-sql_not_won")
    expect(examples).to_be_visible()
    expect(examples.locator("thead")).to_contain_text("Company domain")  # signed in
    expect(examples.locator("ul.reasons li").first).to_be_visible()
    shot(page, "closed-loop")

    page.get_by_role("link", name="Model").click()
    metrics = page.locator("#metrics-table")
    expect(metrics).to_contain_text("ROC AUC")
    champion, challenger = world.model.version, world.challenger.version
    expect(metrics.locator("thead")).to_contain_text(f"Champion: version {champion}")
    expect(metrics.locator("thead")).to_contain_text(f"Challenger: version {challenger}")
    card = page.locator(f'section.model-card[data-role="challenger"][data-version="{challenger}"]')
    expect(card.locator(".gate-decision")).to_contain_text("Not promoted")
    leads = world.challenger.gate.metrics["compared_leads"]
    expect(card.locator(".gate-leads")).to_contain_text(f"{leads:,.0f} leads")
    expect(card.locator(".window-table")).to_contain_text("leads created")
    expect(page.locator(f'section.model-card[data-role="champion"][data-version="{champion}"]'))
    shot(page, "model")


def test_a_slow_answer_shows_the_working_indicator_and_marks_the_results_busy(
    page: Page,
) -> None:
    """An answer held back (route interception) keeps the loading state on until it comes."""
    sign_in(page)
    working, preview = page.locator("#working"), page.locator("#preview")
    expect(preview.locator("#sql-threshold")).to_be_visible()
    expect(working).to_be_hidden()
    held: list[Route] = []
    preview_requests = re.compile(r"/thresholds/preview\?")
    # The first preview request is held until the test lets it go; any later one passes.
    page.route(preview_requests, lambda route: route.continue_() if held else held.append(route))
    page.locator("#sql_precision").fill("30")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the changed target asked for no preview"
    expect(preview).to_have_attribute("aria-busy", "true")
    expect(working).to_be_visible()  # shown once the request has taken half a second
    delay = page.evaluate("getComputedStyle(document.getElementById('working')).transitionDelay")
    assert delay == "0.5s"
    expect(working).to_have_attribute("role", "status")
    with page.expect_response(preview_requests):
        held[0].continue_()
    expect(working).to_be_hidden()
    expect(preview).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#use_sql_precision")).to_be_checked()
    page.unroute(preview_requests)


# Every form control must have a name people and screen readers get: a <label for>, an
# aria-label, or aria-labelledby pointing at text; buttons their text or an aria-label.
UNLABELLED_CONTROLS = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button')).filter(el => {
  const text = (s) => (s || '').trim().length > 0;
  if (el.tagName === 'BUTTON' && (text(el.textContent) || text(el.getAttribute('aria-label')))) {
    return false;
  }
  if (el.labels && Array.from(el.labels).some(l => text(l.textContent))) { return false; }
  if (text(el.getAttribute('aria-label'))) { return false; }
  const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
  return !ids.some(id => text((document.getElementById(id) || {}).textContent));
}).map(el => el.id || el.name || el.outerHTML.slice(0, 80))"""
FOCUSED = "() => document.activeElement.id || document.activeElement.getAttribute('name') || ''"


def test_every_control_is_labelled_and_the_thresholds_are_set_by_keyboard(page: Page) -> None:
    page.goto("/sign-in")
    expect(page.get_by_label("Access token")).to_be_visible()
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    sign_in(page)
    expect(page.locator("#sql-threshold")).to_be_visible()
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    page.locator("#version").focus()
    order: list[str] = [page.evaluate(FOCUSED)]
    for _ in range(20):
        page.keyboard.press("Tab")
        order.append(page.evaluate(FOCUSED))
    targets = ("sql_capacity", "sql_precision", "sql_share", "mql_recall", "mql_share")
    expected = ["version", *(f for t in targets for f in (f"use_{t}", f"{t}_slider", t))]
    assert order[: len(expected)] == expected, order

    # Ticking a target with the space bar, as a keyboard user does, sets the thresholds by it.
    page.locator("#use_mql_recall").focus()
    with page.expect_response(lambda r: "/thresholds/preview" in r.url):
        page.keyboard.press("Space")
    expect(page.locator("#use_mql_recall")).to_be_checked()
    expect(page.locator(".outcomes li")).to_have_count(1)
    # The apply form comes next in the tab order, then the history's rollback buttons.
    page.locator("#mql_share").focus()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "reason"
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text(re.compile(r"^Record and apply as policy"))

    for link in ("Closed loop", "Model"):
        page.get_by_role("link", name=link).click()
        expect(page.locator("h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED_CONTROLS) == [], link

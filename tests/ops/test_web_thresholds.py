"""The Thresholds page on a registered model: the CLI's thresholds, infeasible targets, apply,
rollback, and the examples' personal fields; the real app in process, the real MLflow store.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pandas as pd
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli_app
from demo.world import DemoWorld
from models.registry import CHAMPION
from ops.closed_loop import closed_loop
from ops.closed_loop_examples import CONTACT_FIELDS, tier_surprises
from ops.policy_store import PolicyStore
from ops.prediction_log import read_predictions
from ops.web.app import create_app
from ops.web.settings import UiSettings
from training.pipeline import TrainingResult
from training.run import fitted_window

from .web_support import TOKEN, UiWorld, cli_thresholds, ui_world

LOCAL = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def world(trained: TrainingResult, small_world: DemoWorld) -> UiWorld:
    return ui_world(trained, small_world)


@pytest.fixture()
def client(world: UiWorld) -> Iterator[TestClient]:
    settings = UiSettings(
        tracking=world.model.tracking,
        api_token=TOKEN,
        predictions=str(world.predictions),
        later_export=world.model.export_dir,
    )
    client = TestClient(create_app(settings), base_url=LOCAL, headers={"Origin": LOCAL})
    response = client.post("/sign-in", data={"name": "Robin", "token": TOKEN})
    assert response.status_code == 200
    yield client
    world.model.activate()
    PolicyStore(world.model.name).apply(world.model.version, "1")  # leave policy 1 served


def shown(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]+)<', page)
    assert found, f"{element_id} not on the page"
    return found.group(1).strip()


def run_cli(world: UiWorld, monkeypatch: pytest.MonkeyPatch, *targets: str) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.model.tracking.tracking_uri)
    result = CliRunner().invoke(
        cli_app,
        ["thresholds", "--model", world.model.uri, *targets, "--dry-run", "--report", "/dev/null"],
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_same_targets_give_the_clis_thresholds(
    client: TestClient, world: UiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for form, cli in (
        ({"use_sql_capacity": "on", "sql_capacity": "12"}, ("--sql-capacity", "12")),
        (
            {"use_sql_share": "on", "sql_share": "4", "use_mql_recall": "on", "mql_recall": "70"},
            ("--sql-share", "0.04", "--mql-recall", "0.7"),
        ),
    ):
        page = client.get(
            f"/thresholds/preview?{urlencode({'version': world.model.version, **form})}"
        )
        assert page.status_code == 200
        expected = cli_thresholds(run_cli(world, monkeypatch, *cli))
        assert (shown(page.text, "sql-threshold"), shown(page.text, "mql-threshold")) == expected
        assert "(met)" in page.text and "NOT met" not in page.text


def test_an_infeasible_target_says_why_and_offers_the_closest(
    client: TestClient, world: UiWorld
) -> None:
    form = {
        "use_sql_precision": "on",
        "sql_precision": "99",
        "use_sql_capacity": "on",
        "sql_capacity": "5",
    }
    page = client.get(f"/thresholds?{urlencode(form)}").text
    assert "NOT met" in page and "cannot be met: the best reachable is" in page
    closest = re.search(r'<a class="button" href="([^"]+)"', page)
    assert closest and "Use the closest" in page
    followed = client.get(closest.group(1).replace("&amp;", "&")).text
    assert "NOT met" not in followed and "(met)" in followed
    bad = client.get("/thresholds/preview?use_sql_share=on&sql_share=abc").text
    assert "is not a number" in bad


def test_apply_needs_a_reason_records_who_and_why_and_rolls_back(
    client: TestClient, world: UiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = client.get("/thresholds").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    form = {
        "csrf_token": csrf.group(1),
        "version": world.model.version,
        "use_sql_capacity": "on",
        "sql_capacity": "9",
    }
    refused = client.post("/thresholds/apply", data={**form, "reason": " "})
    assert "Say why" in refused.text
    store = PolicyStore(world.model.name, world.model.activate())
    before = len(store.history(world.model.version))
    applied = client.post("/thresholds/apply", data={**form, "reason": "two SDRs from Monday"})
    assert applied.status_code == 200 and "recorded and applied" in applied.text
    history = store.history(world.model.version)
    assert len(history) == before + 1
    new = history[-1]
    assert (new.author, new.reason, new.targets) == (
        "Robin",
        "two SDRs from Monday",
        {"sql_capacity": 9.0},
    )
    assert store.applied_version(world.model.version) == new.version
    expected = cli_thresholds(run_cli(world, monkeypatch, "--sql-capacity", "9"))
    assert (f"{new.policy.sql_threshold:.4f}", f"{new.policy.mql_threshold:.4f}") == expected
    assert shown(applied.text, "applied-version") == f"policy {new.version}"
    assert f'data-policy="{new.version}" class="applied"' in applied.text

    back = client.post(
        "/thresholds/rollback",
        data={"csrf_token": csrf.group(1), "version": world.model.version, "policy_version": "1"},
    )
    assert "served with version" in back.text and shown(back.text, "applied-version") == "policy 1"
    assert store.applied_version(world.model.version) == "1"


def test_examples_carry_reasons_and_contact_fields_only_when_asked(
    world: UiWorld, trained: TrainingResult, small_world: DemoWorld
) -> None:
    result = closed_loop(read_predictions(world.predictions), small_world.export, 90)
    public = tier_surprises(result, small_world.export, trained.scorer, n=3)
    private = tier_surprises(result, small_world.export, trained.scorer, n=3, with_contact=True)
    for table in (public.sql_not_won, public.mql_won):
        assert len(table) and not set(CONTACT_FIELDS) & set(table.columns)
        assert all(len(r) for r in table["reasons_positive"])
    assert set(CONTACT_FIELDS) <= set(private.sql_not_won.columns)
    entries = result.entries.set_index(["lead_id", "tier"])
    for row in public.sql_not_won.itertuples():
        assert entries.loc[(row.lead_id, "SQL"), "label"] == 0
    for row in public.mql_won.itertuples():
        assert entries.loc[(row.lead_id, "MQL"), "label"] == 1


def card(page: str, role: str, version: str) -> str:
    found = re.search(
        rf'<section class="card model-card" data-role="{role}" '
        rf'data-version="{version}".*?</section>',
        page,
        re.S,
    )
    assert found, f"no {role} card of version {version}"
    return found.group(0)


def people_day(iso: str) -> str:
    stamp = pd.Timestamp(iso)
    return f"{stamp.day} {stamp:%b %Y}"


def test_model_page_sets_champion_and_challenger_side_by_side(
    client: TestClient, world: UiWorld, trained: TrainingResult, small_world: DemoWorld
) -> None:
    registry = world.model.activate()
    challenger = world.challenger
    page = client.get("/model").text
    header = re.search(r'<table id="metrics-table">.*?</table>', page, re.S)
    assert header
    metrics_table = header.group(0)
    assert f"Champion: version {world.model.version}" in metrics_table
    assert f"Challenger: version {challenger.version}" in metrics_table
    for run_id in (world.model.run_id, challenger.run_id):
        m = registry.get_run(run_id).data.metrics
        for name in ("roc_auc", "log_loss"):
            low, high = m[f"holdout_{name}_ci_low"], m[f"holdout_{name}_ci_high"]
            figure = (
                f'{m[f"holdout_{name}"]:.3f} <span class="muted">[{low:.3f}, {high:.3f}]</span>'
            )
            assert figure in metrics_table, (run_id, name)

    # Each version's aliases beside it in the version selector.
    assert f">version {world.model.version} (@champion)</option>" in page
    assert f">version {challenger.version} (@challenger)</option>" in page

    gate = challenger.gate
    assert not gate.promoted and gate.metrics["compared_leads"] > 0
    theirs = card(page, "challenger", challenger.version)
    assert "Not promoted: the champion was kept" in theirs
    assert f"judged against champion version {world.model.version}" in theirs
    assert gate.reason in theirs
    assert f"Decided on <strong>{gate.metrics['compared_leads']:,.0f} leads</strong>" in theirs
    assert f"{gate.metrics['compared_converted_leads']:,.0f} of them converted" in theirs
    for name in ("log_loss", "roc_auc"):
        mine, champion = gate.metrics[f"challenger_{name}"], gate.metrics[f"champion_{name}"]
        assert re.search(rf"{mine:.4f}</td><td[^>]*>{champion:.4f}</td>", theirs), name
    for version, result, export in (
        (world.model.version, trained, small_world.export),
        (challenger.version, challenger.result, challenger.export),
    ):
        window = fitted_window(result, export)
        shown_card = card(
            page, "champion" if version == world.model.version else "challenger", version
        )
        assert f"{window.leads:,} leads" in shown_card
        assert f"{people_day(window.start)} to {people_day(window.end)}" in shown_card
        assert people_day(window.cutoff) in shown_card
    assert "no gate decision" in card(page, "champion", world.model.version)  # registered by hand

    # Once promoted, champion and challenger are one version: the page sets it beside the
    # champion its gate replaced.
    run_tags = registry.get_run(challenger.run_id).data.tags
    try:
        registry.set_tag(challenger.run_id, "gate_promoted", "True")
        registry.set_registered_model_alias(world.model.name, CHAMPION, challenger.version)
        promoted = client.get("/model").text
        assert "Promoted to champion" in card(promoted, "champion", challenger.version)
        assert "Previous champion: version 1" in promoted
        card(promoted, "previous champion", world.model.version)
    finally:
        registry.set_tag(challenger.run_id, "gate_promoted", run_tags["gate_promoted"])
        registry.set_registered_model_alias(world.model.name, CHAMPION, world.model.version)


def test_start_up_computes_the_closed_loop_the_first_visit_needs(
    world: UiWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """The app joins the log and export while it starts, so the first visit reads the result
    (on the 50,000-lead demo the join takes seconds: docs/marketing-ops.md)."""
    caplog.set_level(logging.INFO, logger="ops.web")
    settings = UiSettings(
        tracking=world.model.tracking,
        predictions=str(world.predictions),
        later_export=world.model.export_dir,
    )
    with TestClient(create_app(settings), base_url=LOCAL) as client:  # runs the lifespan
        deadline = time.monotonic() + 120
        while "start-up warm-up done" not in caplog.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "start-up warm-up done" in caplog.messages, caplog.messages
        page = client.get("/closed-loop/content")
    assert page.status_code == 200 and 'id="tier-table"' in page.text
    joins = [m for m in caplog.messages if m.startswith("closed loop joined")]
    assert len(joins) == 1, joins  # the visit used the start-up's join

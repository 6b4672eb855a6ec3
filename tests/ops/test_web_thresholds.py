"""The Thresholds page on a registered model: the CLI's thresholds, infeasible targets, apply,
rollback, and the examples' personal fields; the real app in process, the real MLflow store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli_app
from demo.world import DemoWorld
from ops.closed_loop import closed_loop
from ops.closed_loop_examples import CONTACT_FIELDS, tier_surprises
from ops.policy_store import PolicyStore
from ops.prediction_log import read_predictions
from ops.web.app import create_app
from ops.web.settings import UiSettings
from training.pipeline import TrainingResult

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


def test_model_page_shows_what_the_registry_holds(client: TestClient, world: UiWorld) -> None:
    run = world.model.activate().get_run(world.model.run_id)
    auc = run.data.metrics["holdout_roc_auc"]
    low, high = (
        run.data.metrics["holdout_roc_auc_ci_low"],
        run.data.metrics["holdout_roc_auc_ci_high"],
    )
    page = client.get("/model").text
    assert f"Champion: version {world.model.version}" in page
    assert f"{auc:.3f}" in page and f"[{low:.3f}, {high:.3f}]" in page
    holdout_start = run.data.params["boundary_holdout_start"]
    assert "holdout start" in page and holdout_start in page
    assert "no gate decision" in page  # this registry records none

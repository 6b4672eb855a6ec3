"""A single-table model end to end on X Education: train, register, gate, score, serve, POST.

X Education's leads (README of the dataset): one row per lead, `Converted` the outcome, no
timestamps. Its leak columns (filled in by sales after contact) are dropped, and a sample
keeps the test short.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from cli.main import app
from models.registry import WINDOW_KIND_TAG
from tests.processes import stop_process_group
from tests.serving.conftest import free_port
from training.gate import TABLE_ROWS
from training.public_tables import X_EDUCATION

ROOT = Path(__file__).resolve().parents[2]


LEADS = X_EDUCATION.location()
LEAKS = X_EDUCATION.leaks
NAME = "lead-conversion-table"
CHAMPION_URI = f"models:/{NAME}@champion"
SAMPLE = 2_400
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class TableModel:
    folder: Path
    env: dict[str, str]
    first: Path  # the sample the champion was trained on
    second: Path  # another sample, half of it new rows
    train_output: str


def _train(table: Path, env: dict[str, str], *extra: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(table),
            "--label-column",
            "Converted",
            "--drop",
            ",".join(LEAKS),
            *extra,
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module", autouse=True)
def _in_scratch_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MLflow puts a new experiment's artifacts under ./mlruns: keep them out of the checkout."""
    before = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(before)


@pytest.fixture(scope="module")
def table_model(tmp_path_factory: pytest.TempPathFactory) -> TableModel:
    if not LEADS.is_file():
        pytest.fail(f"the X Education dataset is missing: {LEADS}")
    folder = tmp_path_factory.mktemp("x-education")
    leads = pd.read_csv(LEADS)
    shuffled = leads.sample(frac=1.0, random_state=0).reset_index(drop=True)
    first, second = folder / "first.csv", folder / "second.csv"
    shuffled.iloc[:SAMPLE].to_csv(first, index=False)
    shuffled.iloc[SAMPLE // 2 : SAMPLE // 2 + SAMPLE].to_csv(second, index=False)
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "LEADSCORE_EXPERIMENT": "x-education",
    }
    output = _train(first, env)
    return TableModel(folder, env, first, second, output)


def test_train_registers_a_table_model_under_its_own_name(table_model: TableModel) -> None:
    assert f"Registered {NAME} version 1 as @challenger" in " ".join(
        table_model.train_output.split()
    )
    client = MlflowClient(table_model.env["MLFLOW_TRACKING_URI"])
    version = client.get_model_version_by_alias(NAME, "champion")
    assert version.version == 1
    assert version.tags[WINDOW_KIND_TAG] == TABLE_ROWS
    run = client.get_run(str(version.run_id))
    assert run.data.params["label_column"] == "Converted"
    assert 0.75 < run.data.metrics["holdout_roc_auc"] < 0.97  # leaks dropped: no 0.98
    assert run.data.params["id_column"] == "Prospect ID"

    # A later table, half of its rows new: only rows the champion was not fitted on count.
    second = " ".join(_train(table_model.second, table_model.env).split())
    assert "version 2 as @challenger" in second
    latest = client.get_run(str(client.get_model_version(NAME, "2").run_id))
    compared = latest.data.metrics["gate_compared_rows"]
    holdout = latest.data.metrics["rows_holdout"]
    # About half the later holdout is new (the rest was the champion's train or validation).
    assert 0.3 * holdout < compared < 0.8 * holdout
    fitted_by_champion = 0.8 * holdout  # train + validation share of the champion's sample
    assert compared < holdout and compared > holdout - fitted_by_champion
    reason = latest.data.tags["gate_reason"]
    assert f"on {compared:.0f} holdout leads" in reason and "neither model was fitted on" in reason


def test_score_scores_every_row_like_the_registered_model(
    table_model: TableModel, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        app,
        ["score", "--data", str(table_model.first), "--model", CHAMPION_URI, "--out", str(out)],
        env=table_model.env,
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    rows = pd.read_csv(table_model.first)
    assert len(scores) == len(rows)
    assert scores["row"].tolist() == list(range(len(rows)))
    assert scores["lead_id"].tolist() == rows["Prospect ID"].tolist()
    assert set(scores["tier"]) <= {"SQL", "MQL", "nurture"}
    assert scores["probability"].between(0, 1).all()
    assert scores["fit_score"].isna().all()  # a table has no fit / engagement split
    assert scores["reasons_positive"].map(len).gt(0).mean() > 0.5

    mlflow.set_tracking_uri(table_model.env["MLFLOW_TRACKING_URI"])
    try:
        model = mlflow.pyfunc.load_model(CHAMPION_URI)
        served = model.predict(rows.head(20))
    finally:
        mlflow.set_tracking_uri("")
    np.testing.assert_allclose(served["probability"], scores["probability"].head(20), rtol=1e-9)

    export_model = CliRunner().invoke(
        app,
        ["score", "--data", str(table_model.folder), "--model", CHAMPION_URI, "--out", str(out)],
        env=table_model.env,
    )
    assert export_model.exit_code == 1


def test_thresholds_work_on_a_table_model(table_model: TableModel, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "thresholds",
            "--model",
            f"models:/{NAME}/1",
            "--sql-share",
            "0.1",
            "--leads-per-week",
            "100",
            "--dry-run",
            "--report",
            str(tmp_path / "thresholds.html"),
        ],
        env=table_model.env,
    )
    assert result.exit_code == 0, result.output
    assert "SQL threshold" in result.output


@contextlib.contextmanager
def _serving(table_model: TableModel, port: int, log_path: Path) -> Iterator[subprocess.Popen]:
    env = {**os.environ, **table_model.env}
    env.pop("LEADSCORE_API_TOKEN", None)
    command = [
        str(Path(sys.executable).parent / "leadscore"),
        "serve",
        "--model",
        CHAMPION_URI,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process_group(process)


def test_serve_scores_a_posted_row(table_model: TableModel, tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    rows = pd.read_csv(table_model.first).head(2)
    with _serving(table_model, port, log_path) as process:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"leadscore serve exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"not ready in {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)

        openapi = client.get("/openapi.json").json()
        lead_schema = openapi["components"]["schemas"]["TableLead"]
        assert {"Lead Source", "TotalVisits", "Prospect ID"} <= set(lead_schema["properties"])
        assert "Tags" not in lead_schema["properties"]  # dropped as a leak

        # One row as a CRM would send it: the table's columns, empty cells left out.
        record = {
            k: v
            for k, v in rows.iloc[0].to_dict().items()
            if k in lead_schema["properties"] and not (isinstance(v, float) and v != v)
        }
        response = client.post("/score", json={"leads": [record], "explain": True})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"]["name"] == NAME
        (score,) = body["scores"]
        assert score["lead_id"] == rows.iloc[0]["Prospect ID"]
        assert 0 <= score["probability"] <= 1 and 0 <= score["percentile"] <= 100
        assert score["tier"] in ("SQL", "MQL", "nurture")
        assert score["fit_score"] is None and score["engagement_score"] is None
        assert score["reasons"]["positive"] or score["reasons"]["negative"]

        batch = CliRunner().invoke(
            app,
            [
                "score",
                "--data",
                str(table_model.first),
                "--model",
                CHAMPION_URI,
                "--out",
                str(tmp_path / "batch.parquet"),
            ],
            env=table_model.env,
        )
        assert batch.exit_code == 0, batch.output
        expected = pd.read_parquet(tmp_path / "batch.parquet").iloc[0]
        assert score["probability"] == pytest.approx(expected["probability"], rel=1e-9)
        assert score["tier"] == expected["tier"]

        unknown = client.post("/score", json={"leads": [{**record, "Tagz": "x"}]})
        assert unknown.status_code == 422
        assert "Tagz" in json.dumps(unknown.json())


def test_plain_bentoml_serve_of_a_table_model_without_its_folder_says_why(
    table_model: TableModel,
) -> None:
    """BentoML fixes the /score request type when the service class is defined: a table
    model's comes from the folder `leadscore serve` prepares. Without it, no worker serves the
    model under the export model's schema; each says why, and the server stops with 1."""
    env = {**os.environ, **table_model.env, "LEADSCORE_MODEL_URI": CHAMPION_URI}
    for name in ("LEADSCORE_API_TOKEN", "LEADSCORE_MODEL_DIR"):
        env.pop(name, None)
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:LeadScoring"]
    command += ["--host", "127.0.0.1", "--port", str(free_port()), "--working-dir", str(ROOT)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert "serve a single-table model with `leadscore serve`" in output

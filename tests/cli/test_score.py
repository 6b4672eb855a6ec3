"""`leadscore score`: every open lead scored as the registered pyfunc scores it, clear errors."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from demo.world import DemoWorld
from models.registry import CHAMPION
from tests.ops.marketing_ops_support import RegisteredModel
from training.tracking import lead_records


def test_score_command_scores_every_open_lead_like_the_pyfunc(
    model: RegisteredModel,
    small_world: DemoWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking.tracking_uri)
    uri = f"models:/{model.name}@{CHAMPION}"
    export_dir = model.export_dir
    runner = CliRunner()
    out = tmp_path / "scores.parquet"
    result = runner.invoke(
        app, ["score", "--data", str(export_dir), "--model", uri, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    export = small_world.export
    cutoff = export.cutoff
    has_opportunity = set(
        export.opportunities.loc[export.opportunities["created_at"] < cutoff, "lead_id"]
    )
    expected = (
        set(export.leads.loc[export.leads["created_at"] < cutoff, "lead_id"]) - has_opportunity
    )
    assert set(scores["lead_id"]) == expected
    assert len(scores) == len(expected)
    assert {
        "probability",
        "percentile",
        "tier",
        "fit_score",
        "engagement_score",
        "reasons_positive",
        "reasons_negative",
        "policy_version",
    } <= set(scores.columns)
    # the same leads through the registered pyfunc give the same probabilities and tiers
    sample = scores.head(20)
    pyfunc = mlflow.pyfunc.load_model(uri)
    records = lead_records(export, sample["lead_id"].tolist(), cutoff)
    served = pyfunc.predict(records, params={"as_of": cutoff.isoformat()}).set_index("lead_id")
    np.testing.assert_allclose(
        served.loc[sample["lead_id"], "probability"].to_numpy(), sample["probability"], rtol=1e-9
    )
    assert served.loc[sample["lead_id"], "tier"].tolist() == sample["tier"].tolist()

    csv_out = tmp_path / "fast.csv"
    fast = runner.invoke(
        app,
        ["score", "--data", str(export_dir), "--model", uri, "--out", str(csv_out), "--no-reasons"],
    )
    assert fast.exit_code == 0, fast.output
    assert len(pd.read_csv(csv_out)) == len(expected)

    bad = runner.invoke(app, ["score", "--data", str(export_dir), "--out", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2
    assert "must end in .csv or .parquet" in bad.output
    missing = runner.invoke(
        app,
        [
            "score",
            "--data",
            str(export_dir),
            "--model",
            "models:/nope@champion",
            "--out",
            str(tmp_path / "y.csv"),
        ],
    )
    assert missing.exit_code == 1
    assert "Cannot load model" in missing.output

"""`leadscore train`: what it refuses before fitting anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.training.test_export import write_csv_export

runner = CliRunner()


@pytest.mark.parametrize(
    ("drop", "message"),
    [("country", "data-contract lead columns"), ("plan_tierx", "no such lead columns")],
)
def test_cli_train_refuses_to_drop_contract_or_unknown_columns(
    tmp_path: Path, drop: str, message: str
) -> None:
    folder = write_csv_export(tmp_path / "export")
    result = runner.invoke(app, ["train", "--data", str(folder), "--drop", drop])
    assert result.exit_code == 1
    assert message in result.output and "plan_tier" in result.output
    assert "Traceback" not in result.output

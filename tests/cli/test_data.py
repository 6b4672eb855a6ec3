"""`leadscore validate`: exit codes and messages, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.training.test_export import LEADS_CSV, write_csv_export

runner = CliRunner()


def test_cli_validate_exits_zero_on_a_good_export(tmp_path: Path) -> None:
    folder = write_csv_export(tmp_path / "export")
    result = runner.invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "Traceback" not in result.output


def test_cli_validate_exits_one_and_prints_the_issue(tmp_path: Path) -> None:
    leads = LEADS_CSV.replace("L2,", "L1,")  # duplicate lead_id in row 2
    folder = write_csv_export(tmp_path / "export", leads=leads)
    result = runner.invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "duplicate lead_id" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("problem", ["missing folder", "unreadable file"])
def test_cli_validate_never_shows_a_traceback(tmp_path: Path, problem: str) -> None:
    folder = tmp_path / "export"
    if problem == "unreadable file":
        write_csv_export(folder)
        (folder / "leads.csv").unlink()
        (folder / "leads.parquet").write_bytes(b"\x00garbage")
    result = runner.invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert ("does not exist" if problem == "missing folder" else "cannot read") in result.output


def test_cli_demo_data_writes_a_named_world(tmp_path: Path) -> None:
    out = tmp_path / "custom"
    result = runner.invoke(
        app, ["demo-data", "--out", str(out), "--world", "custom_crm", "--leads", "600"]
    )
    assert result.exit_code == 0, result.output
    header = (out / "leads.csv").read_text().splitlines()[0].split(",")
    assert {"budget_status", "lead_owner", "intent_level"} <= set(header)
    assert "Book a Meeting" in (out / "activities.csv").read_text()
    assert (out / "truth.csv").exists()


def test_cli_demo_data_rejects_an_unknown_world(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo-data", "--out", str(tmp_path / "x"), "--world", "nope"])
    assert result.exit_code == 2
    assert "no demo world 'nope'" in result.output
    assert "Traceback" not in result.output

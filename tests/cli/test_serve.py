"""`leadscore serve`: a model that is not in the registry is refused with a message."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from tests.ops.marketing_ops_support import RegisteredModel
from tests.serving.conftest import free_port


def test_serve_refuses_a_missing_model(model: RegisteredModel) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--model", f"models:/{model.name}@nope", "--port", str(free_port())],
        env={"MLFLOW_TRACKING_URI": model.tracking.tracking_uri},
    )
    assert result.exit_code == 1
    assert "Cannot serve" in result.output
    assert f"{model.name}@nope" in result.output

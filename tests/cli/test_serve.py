"""`leadscore serve`: a model that is not in the registry is refused with a message."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from demo.world import DemoWorld
from tests.ops.marketing_ops_support import RegisteredModel, registered_model
from tests.serving.conftest import free_port
from training.pipeline import TrainingResult


@pytest.fixture(scope="module")
def model(trained: TrainingResult, small_world: DemoWorld) -> RegisteredModel:
    return registered_model(trained, small_world)


def test_serve_refuses_a_missing_model(model: RegisteredModel) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--model", f"models:/{model.name}@nope", "--port", str(free_port())],
        env={"MLFLOW_TRACKING_URI": model.tracking.tracking_uri},
    )
    assert result.exit_code == 1
    assert "Cannot serve" in result.output
    assert f"{model.name}@nope" in result.output

"""The registered model the CLI tests run commands against (built once per session)."""

from __future__ import annotations

import pytest

from demo.world import DemoWorld
from tests.ops.marketing_ops_support import RegisteredModel, registered_model
from training.pipeline import TrainingResult


@pytest.fixture(scope="session")
def model(trained: TrainingResult, small_world: DemoWorld) -> RegisteredModel:
    return registered_model(trained, small_world)

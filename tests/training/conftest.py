"""A small demo world and one training run, shared by the training tests."""

from __future__ import annotations

import pytest

from training.demo_world import DemoConfig, DemoWorld, generate_demo_world
from training.pipeline import TrainConfig, TrainingResult, train

SMALL_CONFIG = TrainConfig(n_bootstrap=50, reference_size=1_000)


@pytest.fixture(scope="session")
def small_world() -> DemoWorld:
    return generate_demo_world(DemoConfig(n_leads=6_000, seed=1))


@pytest.fixture(scope="session")
def trained(small_world: DemoWorld) -> TrainingResult:
    return train(small_world.export, SMALL_CONFIG)

"""Shared fixtures: tiny hand-made exports, and a small demo world with one training run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo.world import DemoConfig, DemoWorld, generate_demo_world
from features.contract import LEAD_OPTIONAL, Export
from training.pipeline import TrainConfig, TrainingResult, train

# A real PostgreSQL server for the tests that ask for `postgres_url` (tests/postgres.py).
pytest_plugins = ("tests.postgres",)


def make_export(
    leads: list[dict], activities: list[dict] | None = None, opportunities: list[dict] | None = None
) -> Export:
    """A normalised Export from plain dicts (timestamps as strings, tz-naive UTC)."""
    lead_frame = pd.DataFrame(leads)
    lead_frame["created_at"] = pd.to_datetime(lead_frame["created_at"]).astype("datetime64[ns]")
    for column in LEAD_OPTIONAL:
        if column not in lead_frame:
            lead_frame[column] = np.nan if column == "company_size" else None
    acts = pd.DataFrame(activities or [], columns=["lead_id", "occurred_at", "activity_type"])
    acts["occurred_at"] = pd.to_datetime(acts["occurred_at"]).astype("datetime64[ns]")
    acts["detail"] = None
    opps = pd.DataFrame(
        opportunities or [],
        columns=["opportunity_id", "lead_id", "created_at", "closed_at", "status", "amount"],
    )
    for column in ("created_at", "closed_at"):
        opps[column] = pd.to_datetime(opps[column]).astype("datetime64[ns]")
    opps["amount"] = opps["amount"].astype(float)
    return Export(leads=lead_frame, activities=acts, opportunities=opps)


SMALL_CONFIG = TrainConfig(n_bootstrap=50, reference_size=1_000)


@pytest.fixture(scope="session")
def small_world() -> DemoWorld:
    return generate_demo_world(DemoConfig(n_leads=6_000, seed=1))


@pytest.fixture(scope="session")
def trained(small_world: DemoWorld) -> TrainingResult:
    return train(small_world.export, SMALL_CONFIG)

"""Fixtures of the training tests: the small demo world as an export folder, a local store."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.world import DemoWorld, write_demo_world
from models.registry import TrackingConfig


def local_tracking(folder: Path, name: str, uri: str | None = None) -> TrackingConfig:
    """A tracking store of the test's own (SQLite in `folder` unless `uri`), model `name`."""
    return TrackingConfig(
        tracking_uri=uri or f"sqlite:///{folder / 'mlflow.db'}",
        artifact_location=None if uri else (folder / "mlartifacts").as_uri(),
        experiment=name,
        model_name=name,
    )


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory, small_world: DemoWorld) -> Path:
    """The small demo world written as a CRM export folder."""
    folder = tmp_path_factory.mktemp("export")
    write_demo_world(small_world, folder)
    return folder

"""A registered version whose files changed in the artifact store is not served (finding 1):
the digests recorded at registration name the changed or unexpected file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from models.digests import DIGESTS_TAG, ArtifactError
from models.pyfunc import load_scorer_from_uri
from serving.model_source import ModelLoadError, load_model_dir, prepare_model_dir
from tests.serving.conftest import MODEL_NAME, TrainedModel, free_port
from training.tracking import record_file_digests

LEADSCORE = str(Path(sys.executable).parent / "leadscore")
NAME = "lead-conversion-tamper-test"


@pytest.fixture()
def own_store(trained_model: TrainedModel, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A copy of the registry with one version whose files sit in a folder of this test."""
    store = tmp_path / "mlflow.db"
    shutil.copy(trained_model.tracking_uri.removeprefix("sqlite:///"), store)
    uri = f"sqlite:///{store}"
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        files = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{MODEL_NAME}/1", dst_path=str(tmp_path / "artifacts")
            )
        )
        client.create_registered_model(NAME)
        version = client.create_model_version(NAME, files.as_uri()).version
        record_file_digests(client, NAME, str(version))
        yield uri, files
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def test_changed_or_unexpected_files_stop_start_up_by_name(
    own_store: tuple[str, Path], tmp_path: Path
) -> None:
    uri, files = own_store
    model = f"models:/{NAME}/1"
    card = prepare_model_dir(model, uri, tmp_path / "good")
    assert card.version == "1"
    load_model_dir(tmp_path / "good")
    trees = files / "artifacts" / "scorer" / "trees.txt"
    original = trees.read_text()
    trees.write_text(original.replace("leaf_value=", "leaf_value=7", 1))
    with pytest.raises(ModelLoadError, match=r"artifacts/scorer/trees\.txt changed"):
        prepare_model_dir(model, uri, tmp_path / "changed")
    # Batch scoring, thresholds and the ui load registry versions the same checked way.
    with pytest.raises(ArtifactError, match=r"artifacts/scorer/trees\.txt changed"):
        load_scorer_from_uri(model)
    trees.write_text(original)
    assert load_scorer_from_uri(model).policy is not None
    (files / "artifacts" / "scorer" / "scorer.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(ModelLoadError, match=r"unexpected file artifacts/scorer/scorer\.pkl"):
        prepare_model_dir(model, uri, tmp_path / "planted")
    with pytest.raises(ArtifactError, match=r"unexpected file artifacts/scorer/scorer\.pkl"):
        load_scorer_from_uri(model)
    # The same through `leadscore serve`: one line, nothing served.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADSCORE_", "MLFLOW_"))}
    done = subprocess.run(
        [LEADSCORE, "serve", "--model", model, "--port", str(free_port())],
        env={**env, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1
    assert "unexpected file artifacts/scorer/scorer.pkl" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_prepared_folder_changed_before_a_worker_loads_it_is_refused(
    own_store: tuple[str, Path], tmp_path: Path
) -> None:
    uri, _ = own_store
    prepare_model_dir(f"models:/{NAME}/1", uri, tmp_path / "prepared")
    policy = tmp_path / "prepared" / "mlflow_model" / "artifacts" / "tier_policy.json"
    policy.write_text(policy.read_text().replace('"sql_threshold": ', '"sql_threshold": 0.0', 1))
    with pytest.raises(ModelLoadError, match=r"artifacts/tier_policy\.json changed"):
        load_model_dir(tmp_path / "prepared")


def test_a_version_without_recorded_digests_is_not_served(
    own_store: tuple[str, Path], tmp_path: Path
) -> None:
    uri, _ = own_store
    MlflowClient(tracking_uri=uri, registry_uri=uri).delete_model_version_tag(
        NAME, "1", DIGESTS_TAG
    )
    with pytest.raises(ModelLoadError, match="no file digests recorded"):
        prepare_model_dir(f"models:/{NAME}/1", uri, tmp_path / "unverified")
    with pytest.raises(ArtifactError, match="no file digests recorded"):
        load_scorer_from_uri(f"models:/{NAME}/1")

"""A scorer stored as data (issue 11, finding 1): nothing in it runs code when loaded, it
scores exactly as before saving, and older or tampered artifacts are refused by name."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from demo.world import DemoWorld
from features.history import LeadHistory
from models.artifacts import FORMAT_FILE, load_scorer_files, save_scorer_files
from models.digests import ArtifactError, file_digests, manifest, read_manifest, verify_files
from models.pyfunc import load_scorer, save_scorer
from training.pipeline import TrainingResult

ROOT = Path(__file__).resolve().parents[2]


def _history(world: DemoWorld, n: int = 300) -> LeadHistory:
    export = world.export
    as_of = export.leads["created_at"].max()
    leads = export.leads.head(n)
    return LeadHistory.at(leads, export.activities, as_of)


def test_saved_scorer_scores_exactly_as_the_fitted_one(
    trained: TrainingResult, small_world: DemoWorld, tmp_path: Path
) -> None:
    scorer = trained.scorer
    save_scorer_files(scorer, tmp_path / "scorer")
    loaded = load_scorer_files(tmp_path / "scorer", scorer.policy)
    history = _history(small_world)
    before, after = scorer.score(history), loaded.score(history)
    np.testing.assert_array_equal(after["probability"], before["probability"])
    assert after["tier"].tolist() == before["tier"].tolist()
    assert after["reasons_positive"].tolist() == before["reasons_positive"].tolist()
    np.testing.assert_array_equal(after["fit_score"], before["fit_score"])
    # Only data: LightGBM's text model and JSON, no pickle anywhere.
    for path in (tmp_path / "scorer").iterdir():
        assert path.suffix in (".json", ".txt"), path
        assert not path.read_bytes().startswith(b"\x80"), path


def test_a_pickle_planted_as_the_scorer_runs_nothing(
    trained: TrainingResult, tmp_path: Path
) -> None:
    """The attack of finding 1: a pickle that runs a command when loaded."""
    artifacts = save_scorer(trained.scorer, tmp_path / "model")
    marker = tmp_path / "owned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    scorer_dir = Path(artifacts["scorer"])
    shutil.rmtree(scorer_dir)
    scorer_dir.mkdir()
    (scorer_dir / "scorer.pkl").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ArtifactError, match=r"older leadscore.*retrain"):
        load_scorer(artifacts)
    assert not marker.exists()
    # The pickle of an older leadscore, in place of the folder: refused the same way.
    shutil.rmtree(scorer_dir)
    scorer_dir.with_suffix(".pkl").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ArtifactError):
        load_scorer({**artifacts, "scorer": str(scorer_dir.with_suffix(".pkl"))})
    assert not marker.exists()


def test_another_format_version_is_refused_with_retrain(
    trained: TrainingResult, tmp_path: Path
) -> None:
    save_scorer_files(trained.scorer, tmp_path)
    described = json.loads((tmp_path / FORMAT_FILE).read_text())
    (tmp_path / FORMAT_FILE).write_text(json.dumps({**described, "version": 1}))
    with pytest.raises(ArtifactError, match=r"version 1.*retrain"):
        load_scorer_files(tmp_path, trained.scorer.policy)


def test_digests_name_a_changed_missing_or_unexpected_file(
    trained: TrainingResult, tmp_path: Path
) -> None:
    save_scorer_files(trained.scorer, tmp_path)
    recorded = read_manifest(manifest(file_digests(tmp_path)))
    verify_files(tmp_path, recorded, "model m version 1")
    trees = tmp_path / "trees.txt"
    original = trees.read_bytes()
    trees.write_bytes(original.replace(b"leaf_value=", b"leaf_value=9", 1))
    with pytest.raises(ArtifactError, match=r"file trees.txt changed"):
        verify_files(tmp_path, recorded, "model m version 1")
    trees.write_bytes(original)
    (tmp_path / "extra.pkl").write_bytes(b"x")
    with pytest.raises(ArtifactError, match=r"unexpected file extra.pkl"):
        verify_files(tmp_path, recorded, "model m version 1")
    (tmp_path / "extra.pkl").unlink()
    (tmp_path / "reference.json").unlink()
    with pytest.raises(ArtifactError, match=r"reference.json .* missing"):
        verify_files(tmp_path, recorded, "model m version 1")


def test_no_pickle_is_loaded_when_serving_code_reads_a_model(
    trained: TrainingResult, tmp_path: Path
) -> None:
    """Loading a stored scorer never calls pickle (checked in a fresh interpreter)."""
    save_scorer_files(trained.scorer, tmp_path / "scorer")
    policy = json.dumps(trained.scorer.policy.to_dict())
    script = textwrap.dedent(
        f"""
        import pickle, sys
        from pathlib import Path
        def refuse(*args, **kwargs):
            raise SystemExit("pickle used")
        pickle.load = pickle.loads = refuse
        from models.artifacts import load_scorer_files
        from models.tiers import TierPolicy
        import json
        policy = TierPolicy.from_dict(json.loads({policy!r}))
        load_scorer_files(Path({str(tmp_path / "scorer")!r}), policy)
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]

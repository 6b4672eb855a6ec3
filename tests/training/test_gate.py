"""The promotion gate compares challenger and champion only on leads neither was fitted on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from demo.world import DemoWorld
from models.registry import CHAMPION, WINDOW_END_TAG, WINDOW_KIND_TAG
from tests.conftest import SMALL_CONFIG
from tests.training.conftest import local_tracking
from tests.training.worse_challenger import replace_model_with_reversed
from training.gate import DataWindow, GateRule
from training.labels import SnapshotScheme
from training.pipeline import TrainingResult, train
from training.run import log_run

# The earlier export's cut-off: 60 days before the later one's. Refitted on all its cohorts,
# the champion has seen leads created up to 150 days before the later cut-off, which is inside
# the later run's holdout (leads created 210 to 90 days before it).
EARLIER_BY = pd.Timedelta(days=60)
FAST_MODEL = {"n_jobs": 1, "learning_rate": 0.1, "max_rounds": 300, "early_stopping_rounds": 20}


@pytest.fixture(scope="module")
def earlier_champion(small_world: DemoWorld) -> TrainingResult:
    """A model of the earlier export (the same CRM cut 60 days sooner), refitted on all of it."""
    export = small_world.export
    config = replace(
        SMALL_CONFIG,
        as_of=export.cutoff - EARLIER_BY,
        scheme=SnapshotScheme(max_snapshots=4),
        model=FAST_MODEL,
        refit=True,
    )
    return train(export, config)


def test_comparison_uses_only_leads_created_after_the_champions_window(
    tmp_path: Path,
    earlier_champion: TrainingResult,
    trained: TrainingResult,
    small_world: DemoWorld,
    export_dir: Path,
) -> None:
    tracking = local_tracking(tmp_path, "lead-conversion-gate")
    export = small_world.export
    first = log_run(earlier_champion, export, export_dir, tracking)
    assert first.gate.promoted
    client = MlflowClient()
    tags = client.get_model_version(tracking.model_name, first.version).tags
    window = DataWindow.from_tags(tags)
    assert window is not None and tags[WINDOW_KIND_TAG] == "created_at"
    created = export.leads.set_index("lead_id")["created_at"]
    examples = earlier_champion.examples
    fitted = pd.concat([examples.snapshots, examples.activity_snapshots])["lead_id"]
    assert pd.Timestamp(tags[WINDOW_END_TAG]) == created[fitted].max()
    assert window.leads == fitted.nunique()

    worse = log_run(replace_model_with_reversed(trained), export, export_dir, tracking, force=True)
    holdout_created = trained.holdout["lead_id"].map(created)
    unseen = holdout_created > pd.Timestamp(tags[WINDOW_END_TAG])
    # The later holdout straddles the champion's window: part of it is left out.
    assert 0 < unseen.sum() < len(unseen)
    metrics = worse.gate.metrics
    assert metrics["compared_rows"] == unseen.sum()
    assert metrics["compared_leads"] == trained.holdout.loc[unseen, "lead_id"].nunique()
    assert metrics["challenger_roc_auc"] < metrics["champion_roc_auc"]
    assert metrics["challenger_log_loss"] > metrics["champion_log_loss"]
    # Worse on a fair comparison: never promoted, --force or not.
    assert not worse.gate.promoted
    assert "worse by log loss and ROC AUC" in worse.gate.reason
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 1

    # The honest later model is scored on the same leads: the champion's numbers are the same.
    later = log_run(trained, export, export_dir, tracking)
    assert later.gate.metrics["compared_rows"] == unseen.sum()
    assert later.gate.metrics["champion_roc_auc"] == pytest.approx(metrics["champion_roc_auc"])
    assert later.gate.metrics["challenger_roc_auc"] > metrics["challenger_roc_auc"]


def test_too_few_unseen_leads_keeps_the_champion_unless_forced(
    tmp_path: Path, trained: TrainingResult, small_world: DemoWorld, export_dir: Path
) -> None:
    tracking = local_tracking(tmp_path, "lead-conversion-gate")
    export = small_world.export
    log_run(trained, export, export_dir, tracking)
    # The same export again: the refitted champion was fitted on every holdout lead.
    again = log_run(trained, export, export_dir, tracking)
    assert not again.gate.promoted
    assert again.gate.reason.startswith("no fair comparison, champion kept: only 0 holdout leads")
    assert again.gate.metrics["compared_leads"] == 0
    client = MlflowClient()
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 1

    forced = log_run(trained, export, export_dir, tracking, force=True)
    assert forced.gate.promoted and forced.gate.reason.startswith("forced: only 0")
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 3

    # A champion registered before data windows were recorded: no fair comparison either.
    for key in DataWindow.from_tags({WINDOW_KIND_TAG: "created_at"}).tags():  # type: ignore[union-attr]
        client.delete_model_version_tag(tracking.model_name, "3", key)
    unknown = log_run(trained, export, export_dir, tracking, rule=GateRule(1, 1))
    assert not unknown.gate.promoted
    assert "has no recorded data window" in unknown.gate.reason

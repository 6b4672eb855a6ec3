"""The promotion gate judges the challenger's recipe on the information the champion had, on
leads neither was fitted on, with a tie rule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from demo.world import DemoWorld
from features.contract import Export
from features.history import LeadHistory
from models.registry import CHAMPION, GATE_REPORT_ARTIFACT, WINDOW_END_TAG, WINDOW_KIND_TAG
from tests.conftest import SMALL_CONFIG
from tests.training.conftest import local_tracking
from tests.training.worse_challenger import worse_recipe
from training.gate import DataWindow, GateRule
from training.labels import SnapshotScheme
from training.pipeline import SERVED, TrainingResult, train
from training.run import fitted_window, log_run, recipe_as_of

# The earlier export: the same CRM as it stood 60 days before the later one's cut-off. Refitted
# on all its cohorts, the champion has seen leads created up to 150 days before the later
# cut-off, which is inside the later run's holdout (leads created 210 to 90 days before it).
EARLIER_BY = pd.Timedelta(days=60)
FAST_MODEL = {"n_jobs": 1, "learning_rate": 0.1, "max_rounds": 300, "early_stopping_rounds": 20}
# One recipe for champion and challenger, cheap: few snapshots, fast trees, and the validation
# calibrator (no out-of-fold models).
RECIPE = replace(
    SMALL_CONFIG,
    scheme=SnapshotScheme(max_snapshots=4),
    model=FAST_MODEL,
    calibration_folds=0,
)


@pytest.fixture(scope="module")
def earlier_cutoff(small_world: DemoWorld) -> pd.Timestamp:
    return small_world.export.cutoff - EARLIER_BY


@pytest.fixture(scope="module")
def earlier_export(small_world: DemoWorld, earlier_cutoff: pd.Timestamp) -> Export:
    return small_world.export.known_at(earlier_cutoff)


@pytest.fixture(scope="module")
def earlier_champion(earlier_export: Export, earlier_cutoff: pd.Timestamp) -> TrainingResult:
    """A model of the earlier export, refitted on all of it."""
    return train(earlier_export, replace(RECIPE, as_of=earlier_cutoff))


@pytest.fixture(scope="module")
def later_challenger(small_world: DemoWorld) -> TrainingResult:
    """The same recipe and code on the later export: a routine retrain."""
    return train(small_world.export, RECIPE)


def test_a_worse_recipe_is_never_promoted(
    tmp_path: Path,
    earlier_champion: TrainingResult,
    earlier_export: Export,
    small_world: DemoWorld,
    export_dir: Path,
) -> None:
    tracking = local_tracking(tmp_path, "lead-conversion-gate")
    export = small_world.export
    first = log_run(earlier_champion, earlier_export, export_dir, tracking)
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

    worse = train(export, worse_recipe(RECIPE))
    decided = log_run(worse, export, export_dir, tracking, force=True)
    holdout_created = worse.holdout["lead_id"].map(created)
    unseen = holdout_created > pd.Timestamp(tags[WINDOW_END_TAG])
    # The later holdout straddles the champion's window: part of it is left out. The recipe
    # refitted as of the champion's cut-off ends its window where the champion's ends.
    assert 0 < unseen.sum() < len(unseen)
    metrics = decided.gate.metrics
    assert metrics["compared_rows"] == unseen.sum()
    assert metrics["compared_leads"] == worse.holdout.loc[unseen, "lead_id"].nunique()
    assert metrics["refit_leads"] == window.leads
    assert metrics["log_loss_difference_low"] > 0 and metrics["roc_auc_difference_high"] < 0
    # Worse beyond the interval on a fair comparison: never promoted, --force or not.
    assert not decided.gate.promoted
    assert "worse by log loss and ROC AUC beyond the 95 % interval" in decided.gate.reason
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 1
    run = client.get_run(decided.run_id).data
    assert run.tags["gate_compared"].startswith("the challenger's recipe refitted on its export")
    assert run.metrics["gate_log_loss_difference"] == pytest.approx(
        metrics["challenger_log_loss"] - metrics["champion_log_loss"]
    )


def test_the_same_code_on_a_later_export_is_promoted(
    tmp_path: Path,
    earlier_champion: TrainingResult,
    earlier_export: Export,
    later_challenger: TrainingResult,
    small_world: DemoWorld,
    export_dir: Path,
) -> None:
    tracking = local_tracking(tmp_path, "lead-conversion-gate")
    log_run(earlier_champion, earlier_export, export_dir, tracking)
    later = log_run(later_challenger, small_world.export, export_dir, tracking)
    metrics = later.gate.metrics
    assert metrics["compared_leads"] >= 200 and metrics["compared_converted_leads"] >= 20
    # The evaluated model, fitted only before its holdout, has seen older outcomes than the
    # champion: on these leads it loses, and the gate that judged it would keep the champion.
    assert (metrics["evaluated_log_loss"] > metrics["champion_log_loss"]) or (
        metrics["evaluated_roc_auc"] < metrics["champion_roc_auc"]
    )
    # On the champion's information the same recipe makes the champion's model again: a tie,
    # which goes to the challenger.
    assert metrics["challenger_log_loss"] == pytest.approx(metrics["champion_log_loss"], rel=1e-9)
    assert metrics["log_loss_difference_low"] <= 0 <= metrics["log_loss_difference_high"]
    assert later.gate.promoted
    assert "not worse beyond the 95 % interval" in later.gate.reason
    assert "a tie goes to the challenger" in later.gate.reason
    client = MlflowClient()
    assert client.get_model_version_by_alias(tracking.model_name, CHAMPION).version == 2
    report = mlflow.artifacts.load_dict(f"runs:/{later.run_id}/{GATE_REPORT_ARTIFACT}")
    assert report["promoted"] is True and report["champion_version"] == "1"
    assert report["compared"].startswith("the challenger's recipe refitted on its export")
    assert report["metrics"]["compared_leads"] == metrics["compared_leads"]
    assert "paired bootstrap" in report["rule"]


def after_cutoff_changed(export: Export, cutoff: pd.Timestamp) -> Export:
    """The export with everything after `cutoff` changed: every outcome closed later reversed,
    every later activity doubled, every later lead's fields replaced."""
    opportunities = export.opportunities.copy()
    later_close = (opportunities["closed_at"] > cutoff).to_numpy()
    status = opportunities["status"]
    opportunities["status"] = status.where(
        ~later_close, status.map({"won": "lost", "lost": "won", "open": "open"})
    )
    activities = export.activities
    later_activity = activities[activities["occurred_at"] > cutoff]
    leads = export.leads.copy()
    later_lead = (leads["created_at"] > cutoff).to_numpy()
    leads.loc[later_lead, "source"] = "changed after the cut-off"
    return Export(
        leads=leads,
        activities=pd.concat([activities, later_activity], ignore_index=True),
        opportunities=opportunities,
    )


def test_the_refit_as_of_the_cutoff_sees_nothing_after_it(
    small_world: DemoWorld,
    earlier_cutoff: pd.Timestamp,
    earlier_champion: TrainingResult,
    later_challenger: TrainingResult,
) -> None:
    export = small_world.export
    changed = after_cutoff_changed(export, earlier_cutoff)
    assert (changed.opportunities["status"] != export.opportunities["status"]).any()
    seen, refit = recipe_as_of(later_challenger.config, changed, earlier_cutoff)
    for frame, column in (
        (seen.leads, "created_at"),
        (seen.activities, "occurred_at"),
        (seen.opportunities, "created_at"),
        (seen.opportunities, "closed_at"),
    ):
        assert (frame[column].dropna() <= earlier_cutoff).all(), column
    # A deal that closed after the cut-off was still open then.
    still_open = export.opportunities["closed_at"] > earlier_cutoff
    open_ids = export.opportunities.loc[
        still_open & (export.opportunities["created_at"] <= earlier_cutoff), "opportunity_id"
    ]
    assert (seen.opportunities.set_index("opportunity_id").loc[open_ids, "status"] == "open").all()
    assert refit.examples.cutoff == earlier_cutoff
    assert pd.Timestamp(fitted_window(refit, seen).end) <= earlier_cutoff
    # Whatever happened after the cut-off, the refit is the champion's model: the same
    # probabilities on the later holdout, scored as of the same moments.
    rows = later_challenger.holdout[["lead_id", "as_of"]]
    history = LeadHistory(export.leads, export.activities, rows)
    ours = refit.scorer.score(history, explain=False)["probability"].to_numpy()
    theirs = earlier_champion.scorer.score(history, explain=False)["probability"].to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_train_as_of_a_date_reads_the_export_as_it_stood_then(
    small_world: DemoWorld, earlier_cutoff: pd.Timestamp, earlier_champion: TrainingResult
) -> None:
    # `train --as-of` on the whole later file, everything after the date changed: the model of
    # the export as it stood at that date (the champion), not one that counted later activities.
    changed = after_cutoff_changed(small_world.export, earlier_cutoff)
    result = train(changed, replace(RECIPE, as_of=earlier_cutoff))
    pd.testing.assert_frame_equal(result.examples.snapshots, earlier_champion.examples.snapshots)
    np.testing.assert_array_equal(
        result.holdout[SERVED].to_numpy(), earlier_champion.holdout[SERVED].to_numpy()
    )


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

"""A challenger for the web app's model: trained on the demo world exported 60 days later (a
new draw of the same buyer process) and registered and gated as `leadscore train` does
(training.tracking.register_and_gate).

The champion (the session's trained model) gets the data window `leadscore train` records
with every version, so the gate has a fair comparison: the later holdout's leads created
after that window. The challenger is a worse recipe on purpose (one split of one tree, few
snapshots per lead: cheap too); the gate fits it once more on the later export as it stood at
the champion's cut-off, and on those leads it is worse than the champion's beyond the
interval, so it is kept out and the page has two versions to set side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import mlflow
import pandas as pd

from demo.params import DemoConfig
from demo.world import DemoWorld, generate_demo_world
from features.contract import Export
from tests.conftest import SMALL_CONFIG
from tests.training.worse_challenger import worse_recipe
from training.gate import GateDecision
from training.labels import SnapshotScheme
from training.pipeline import TrainingResult, train
from training.run import export_holdout, fitted_window
from training.tracking import register_and_gate

from .marketing_ops_support import RegisteredModel, log_light_run

LATER_BY = pd.Timedelta(days=60)


@dataclass(frozen=True)
class Challenger:
    version: str
    run_id: str
    gate: GateDecision
    result: TrainingResult
    export: Export


def register_challenger(
    model: RegisteredModel, champion: TrainingResult, world: DemoWorld, n_leads: int
) -> Challenger:
    """Train on the later export, register the model as @challenger and run the real gate."""
    client = model.activate()
    for key, value in fitted_window(champion, world.export).tags().items():
        client.set_model_version_tag(model.name, model.version, key, value)
    config = DemoConfig(n_leads=n_leads, seed=1, as_of=world.export.cutoff + LATER_BY)
    later = generate_demo_world(config)
    small = worse_recipe(replace(SMALL_CONFIG, scheme=SnapshotScheme(max_snapshots=4)))
    result = train(later.export, small)
    experiment_id = model.tracking.activate()
    with mlflow.start_run(experiment_id=experiment_id, run_name="train (later export)") as run:
        model_uri = log_light_run(result, later)
        version, gate = register_and_gate(
            client,
            model.name,
            model_uri,
            fitted_window(result, later.export),
            export_holdout(result, later.export),
            result.scorer.policy.version,
        )
    return Challenger(version, run.info.run_id, gate, result, later.export)

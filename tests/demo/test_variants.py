"""The named demo worlds: each generates, differs as it says, and keeps an exact p_true."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from demo.attributes import CUSTOM_FIELDS
from demo.params import DAY
from demo.variants import WORLDS, world_config
from demo.world import DemoWorld, bayes_won_probability, generate_demo_world
from models.reasons import ACTIVITY_PHRASES

N_LEADS = 4_000


def _small(name: str, n_leads: int = N_LEADS) -> DemoWorld:
    # Every lead without an opportunity is in the truth population: more statistical power.
    return generate_demo_world(replace(world_config(name, n_leads=n_leads), eval_window_days=540))


@pytest.fixture(scope="module")
def worlds() -> dict[str, DemoWorld]:
    return {name: _small(name) for name in WORLDS}


def test_there_are_at_least_six_variants_besides_the_default() -> None:
    assert "default" in WORLDS and len(WORLDS) >= 7
    assert world_config("small").n_leads == 5_000
    assert world_config("default") == replace(world_config("default"))
    with pytest.raises(ValueError, match="no demo world 'nope'"):
        world_config("nope")


@pytest.mark.parametrize("name", list(WORLDS))
def test_truth_is_consistent_with_simulated_outcomes(
    worlds: dict[str, DemoWorld], name: str
) -> None:
    truth = worlds[name].truth
    p, won = truth["p_true"].to_numpy(), truth["won"].to_numpy()
    assert len(truth) > 1_000
    assert ((p >= 0) & (p <= 1)).all()
    assert 0.005 < p.mean() < 0.1
    standard_error = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(won.mean() - p.mean()) < 3.5 * standard_error, (won.mean(), p.mean())


def test_variants_differ_as_documented(worlds: dict[str, DemoWorld]) -> None:
    per_lead = {n: len(w.export.activities) / len(w.export.leads) for n, w in worlds.items()}
    assert per_lead["sparse"] < 0.3 * per_lead["default"]

    def cycle_days(world: DemoWorld) -> pd.Series:
        opps = world.export.opportunities.dropna(subset=["closed_at"])
        return (opps["closed_at"] - opps["created_at"]) / pd.Timedelta(days=1)

    assert cycle_days(worlds["quick_close"]).max() <= 30
    assert cycle_days(worlds["enterprise"]).median() > 2 * cycle_days(worlds["default"]).median()

    custom = worlds["custom_crm"].export
    assert {f.name for f in CUSTOM_FIELDS} <= set(custom.extra_lead_columns)
    assert sum(not f.informative for f in CUSTOM_FIELDS) >= 6
    assert not set(custom.activities["activity_type"]) & set(ACTIVITY_PHRASES)

    drifting = worlds["drifting"].export.leads
    first, last = drifting.iloc[:800], drifting.iloc[-800:]
    share = [(part["source"] == "paid_search").mean() for part in (first, last)]
    assert share[1] > 2 * share[0]


def test_seasonal_hazard_and_cohort_drift_shape_the_truth() -> None:
    params = WORLDS["seasonal"].config.params
    peak, trough = params.hazard_season_peak_day, params.hazard_season_peak_day + 182.6
    high, low = params.hazard_at(np.array([int(peak * DAY), int(trough * DAY)]))
    assert high > 3.5 * low
    drift = WORLDS["drifting"].config.params
    assert drift.win_logit_drift(np.array([int((drift.drift_reference_day - 365.25) * DAY)]))[
        0
    ] == pytest.approx(0.5)
    # The same leads and activities give a different p_true in another season.
    world = _small("seasonal", 2_000)
    config = world_config("seasonal", n_leads=2_000)
    ids = world.truth["lead_id"]
    flat = replace(config, params=replace(params, hazard_season_amplitude=0.0))
    assert bayes_won_probability(world.export, ids, flat).mean() > world.truth["p_true"].mean()

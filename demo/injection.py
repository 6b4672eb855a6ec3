"""Hand-raise injection: what one fresh demo request does to a lead's exact `p_true`.

Adding one hand-raise shortly before the cut-off to open leads and recomputing their truth
with the world's own posterior gives the lift a perfect model would show; a model's own lift
on the same edited export can be compared with it (`make bench-worlds`, the injection test).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from demo.params import DemoConfig
from demo.world import DemoWorld, bayes_won_probability
from features.contract import Export


def injection_sample(
    world: DemoWorld, config: DemoConfig, size: int, seed: int = 0, days_before: float = 1.0
) -> pd.Series:
    """Up to `size` lead ids of the truth population (open leads at the cut-off) created before
    the injection time, seeded."""
    created = world.export.leads.set_index("lead_id")["created_at"]
    ids = world.truth["lead_id"]
    ids = ids[(ids.map(created) < _injected_at(config, days_before)).to_numpy()]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ids), size=min(size, len(ids)), replace=False)
    return ids.iloc[np.sort(pick)].reset_index(drop=True)


def _injected_at(config: DemoConfig, days_before: float) -> pd.Timestamp:
    return (config.as_of - pd.Timedelta(days=days_before)).floor("s")


def with_hand_raises(
    export: Export, lead_ids: pd.Series, types: tuple[str, ...], at: pd.Timestamp
) -> Export:
    """The export plus one activity per lead at `at`, its type cycling through `types`."""
    if not types:
        raise ValueError("no hand-raise types to inject")
    created = export.leads.set_index("lead_id").loc[lead_ids, "created_at"]
    if (created >= at).any():
        raise ValueError("a hand-raise cannot come before its lead was created")
    added = pd.DataFrame(
        {
            "lead_id": pd.Series(lead_ids.to_numpy(), dtype="str"),
            "occurred_at": pd.Series(np.full(len(lead_ids), at.to_datetime64())).astype(
                "datetime64[ns]"
            ),
            "activity_type": pd.Series(
                [types[i % len(types)] for i in range(len(lead_ids))], dtype="str"
            ),
        }
    )
    activities = pd.concat([export.activities, added], ignore_index=True)
    activities = activities.sort_values("occurred_at", kind="stable").reset_index(drop=True)
    return replace(export, activities=activities)


def injected_truth(
    world: DemoWorld, config: DemoConfig, lead_ids: pd.Series, days_before: float = 1.0
) -> tuple[Export, pd.DataFrame]:
    """The edited export and, per lead, p_true before and after one hand-raise `days_before`
    the cut-off (columns lead_id, hand_raise, p_before, p_after)."""
    at = _injected_at(config, days_before)
    types = tuple(t for t in config.params.hand_raises if t in config.params.activity_types)
    edited = with_hand_raises(world.export, lead_ids, types, at)
    before = world.truth.set_index("lead_id").loc[lead_ids, "p_true"].to_numpy()
    after = bayes_won_probability(edited, lead_ids, config)
    return edited, pd.DataFrame(
        {
            "lead_id": lead_ids.to_numpy(),
            "hand_raise": [types[i % len(types)] for i in range(len(lead_ids))],
            "p_before": before,
            "p_after": after,
        }
    )

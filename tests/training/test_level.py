"""The served model's level follows the newest snapshots, counting partly observed outcomes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from demo.variants import world_config
from demo.world import generate_demo_world
from features.build import LeadHistory
from tests.conftest import make_export
from training.labels import SnapshotScheme, TrainingExamples
from training.level import LevelSnapshots, followed_wins, level_snapshots, won_delay_days
from training.pipeline import TrainConfig, train

CUTOFF = pd.Timestamp("2026-06-30")


def _lead(lead_id: str, created_at: str) -> dict:
    return {"lead_id": lead_id, "created_at": created_at, "email": f"{lead_id}@example.com"}


def _won(lead_id: str, created_at: str, closed_at: str) -> dict:
    return {
        "opportunity_id": f"o-{lead_id}",
        "lead_id": lead_id,
        "created_at": created_at,
        "closed_at": closed_at,
        "status": "won",
        "amount": 1_000.0,
    }


@pytest.fixture()
def export():  # type: ignore[no-untyped-def]
    return make_export(
        [
            _lead("won_seen", "2026-03-01"),
            _lead("won_after_cutoff", "2026-03-01"),
            _lead("open", "2026-03-01"),
            _lead("fast", "2026-01-25"),
            _lead("slow", "2026-02-05"),
        ],
        opportunities=[
            _won("won_seen", "2026-05-20", "2026-06-10"),
            # closes after the cut-off: not seen at the cut-off, so never counted as a win
            _won("won_after_cutoff", "2026-05-25", "2026-07-15"),
            _won("fast", "2026-02-05", "2026-02-21"),  # 20 days after its snapshot
            _won("slow", "2026-03-01", "2026-04-21"),  # 70 days after its snapshot
        ],
    )


def _examples(export) -> TrainingExamples:  # type: ignore[no-untyped-def]
    labelled = pd.DataFrame(
        {
            "lead_id": ["fast", "slow"],
            "as_of": pd.to_datetime(["2026-02-01", "2026-02-10"]),
            "created_at": pd.to_datetime(["2026-01-25", "2026-02-05"]),
            "age_days": [7.0, 5.0],
            "label": [1, 1],
            "cohort": ["holdout", "holdout"],
        }
    )
    last = CUTOFF - pd.Timedelta(days=90)
    return TrainingExamples(labelled, CUTOFF, 90, {"last_as_of": last})


def test_win_delays_run_from_as_of_to_the_close_of_a_later_opportunity(export) -> None:  # type: ignore[no-untyped-def]
    snapshots = pd.DataFrame(
        {
            "lead_id": ["fast", "fast", "open"],
            "as_of": pd.to_datetime(["2026-02-01", "2026-02-10", "2026-04-01"]),
        }
    )
    # the second snapshot is after the opportunity opened: that win is not its outcome
    assert won_delay_days(snapshots, export).tolist() == [20.0, np.inf, np.inf]


def test_newest_snapshots_count_wins_seen_by_the_cutoff_with_their_exposure(export) -> None:  # type: ignore[no-untyped-def]
    scheme = SnapshotScheme(every_days=1, max_snapshots=400)
    level = level_snapshots(export, _examples(export), scheme, 60, 30)
    as_of = level.snapshots["as_of"]
    # as_of in the 60 days ending 30 days before the cut-off, leads without an opportunity yet
    assert as_of.min() > CUTOFF - pd.Timedelta(days=90)
    assert as_of.max() <= CUTOFF - pd.Timedelta(days=30)
    assert set(level.snapshots["lead_id"]) == {"won_seen", "won_after_cutoff", "open"}
    lead = level.snapshots["lead_id"].to_numpy()
    assert (level.observed[lead == "won_seen"] == 1).all()
    assert (level.observed[lead != "won_seen"] == 0).all()
    # the recent wins closed 20 and 70 days after their snapshots: a snapshot observed for
    # 30-69 days can show half of the horizon's wins, one observed for 70 or more all of them
    observed_days = ((CUTOFF - as_of) / pd.Timedelta(days=1)).to_numpy()
    expected = np.where(observed_days >= 70, 1.0, 0.5)
    assert np.allclose(level.exposure, expected)


def test_level_follows_the_newest_cohorts_of_a_drifting_world() -> None:
    """A world whose base rate falls fast (win log-odds -1.5 a year by cohort): the level read
    from the newest, partly observed snapshots pulls the mean at the cut-off down towards the
    truth, where the calibration alone (fitted over older cohorts) over-predicts it far more.

    The level still lags the cut-off by the window's age (docs/modeling.md): this world's mean
    stays about twice the truth, so the bound is on the move, not on the ratio.
    """
    config = world_config("drifting", n_leads=4_000, seed=3)
    config = replace(config, params=replace(config.params, win_logit_drift_per_year=-1.5))
    world = generate_demo_world(config)
    result = train(
        world.export,
        TrainConfig(
            n_bootstrap=20,
            reference_size=300,
            scheme=SnapshotScheme(activity_share=0.05, activity_per_type=500),
            model={"linear_weight": 0.0, "learning_rate": 0.1, "max_rounds": 300},
        ),
    )
    truth = world.truth
    snapshots = pd.DataFrame({"lead_id": truth["lead_id"], "as_of": config.as_of})
    history = LeadHistory(world.export.leads, world.export.activities, snapshots)
    model = result.scorer.model
    raw = model.predict_raw(result.scorer.featurizer.transform(history))
    calibrator = model.calibrator_
    served = calibrator.predict(raw).mean() / truth["p_true"].mean()
    level = calibrator.level_
    calibrator.level_ = 0.0
    unshifted = calibrator.predict(raw).mean() / truth["p_true"].mean()
    calibrator.level_ = level
    assert result.calibration["level_log_odds"] == level < -0.3
    assert 1.0 < served < 0.75 * unshifted


def _periods_world(
    log_ratios: list[float], window_log_ratios: list[float], size: int, window_size: int
) -> tuple[LevelSnapshots, pd.DataFrame, np.ndarray]:
    """Calibrated snapshots, one lead each, 30 days of as_of a period: six fully labelled
    periods then a two-period level window (exposure 0.6), each period's wins set exactly to
    its expected wins x exp(log ratio)."""
    end = CUTOFF - pd.Timedelta(days=30)
    p = 0.04

    def period(k: int, n: int, ratio: float, exposure: float, tag: str) -> pd.DataFrame:
        wins = round(n * p * exposure * np.exp(ratio))
        as_of = end - pd.Timedelta(days=30 * k + 15)
        return pd.DataFrame(
            {
                "lead_id": [f"{tag}{k}-{i}" for i in range(n)],
                "as_of": [as_of] * n,
                "label": np.arange(n) < wins,
                "p": p,
            }
        )

    labelled = pd.concat(
        [period(k + 2, size, r, 1.0, "l") for k, r in enumerate(reversed(log_ratios))],
        ignore_index=True,
    )
    window = pd.concat(
        [period(k, window_size, r, 0.6, "w") for k, r in enumerate(reversed(window_log_ratios))],
        ignore_index=True,
    )
    level = LevelSnapshots(
        snapshots=window[["lead_id", "as_of"]],
        observed=window["label"].to_numpy(dtype=np.int8),
        exposure=np.full(len(window), 0.6),
        end=end,
    )
    return level, labelled, window["p"].to_numpy()


def _log_ratio(level: LevelSnapshots, p: np.ndarray, wins: float) -> float:
    return float(np.log(wins / (level.exposure * p).sum()))


def test_a_steady_level_pools_every_period_instead_of_following_a_short_window() -> None:
    """The base rate holds over six labelled periods of 3,000 snapshots; the partly observed
    window (2 x 1,000 snapshots, ~24 expected wins each) happens to show 35 % fewer wins. Read
    from the window alone the level falls by 0.43 log-odds (the default rule); the followed
    level sees no movement in the labelled periods and stays near them."""
    level, labelled, p = _periods_world([0.0] * 6, [-0.43, -0.43], 3_000, 1_000)
    window_alone = _log_ratio(level, p, level.observed.sum())
    assert window_alone < -0.35
    assert abs(_log_ratio(level, p, followed_wins(level, p, labelled))) < 0.1


def test_a_moving_level_is_followed_to_the_newest_period() -> None:
    """The base rate falls by 0.15 log-odds every period, well measured: the followed level
    ends near the newest period's, well below the pooled average."""
    falling = [0.15 * (5 - k) for k in range(6)]  # 0.75 down to 0
    level, labelled, p = _periods_world(falling, [-0.15, -0.3], 20_000, 20_000)
    followed = _log_ratio(level, p, followed_wins(level, p, labelled))
    assert -0.4 < followed < -0.2

"""The served model's calibrator reads enough won leads for its shape, its level stays the newest
cohorts', and small exports get more folds (training/calibration_set.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from models.calibration import ProbabilityCalibrator
from training.calibration_set import (
    LARGE_EXPORT_FOLDS,
    SMALL_EXPORT_FOLDS,
    SMALL_EXPORT_WON_LEADS,
    calibration_set,
    fold_count,
    level_on_newest,
)
from training.level import level_standard_error
from training.pipeline import TrainingResult
from training.sampling import TrainingRows

LAST_AS_OF = pd.Timestamp("2026-04-01")


def _rows(created_days_ago: list[int], won: list[bool], periodic: list[bool] | None = None):  # type: ignore[no-untyped-def]
    """One snapshot per lead, created that many days before the last labelled as_of."""
    n = len(created_days_ago)
    created = LAST_AS_OF - pd.to_timedelta(created_days_ago, unit="D")
    table = pd.DataFrame(
        {
            "lead_id": [f"l{i}" for i in range(n)],
            "as_of": created + pd.Timedelta(days=1),
            "created_at": created,
            "label": np.asarray(won, dtype=np.int8),
            "periodic": periodic if periodic is not None else [True] * n,
            "unsampled": True,
            "weight": 1.0,
        }
    )
    return TrainingRows(table, 1.0)


def test_rows_reach_back_over_older_cohorts_until_they_hold_enough_won_leads() -> None:
    # a won lead every 10 days, 0 to 490 days old; 180 days hold 18 of them
    ages = list(range(0, 500, 5))
    won = [age % 10 == 0 for age in ages]
    chosen = calibration_set(_rows(ages, won), LAST_AS_OF, 180, won_leads=30)
    picked = np.asarray(ages)[chosen.rows]
    # the 30th newest won lead is 290 days old: everything up to it, nothing older
    assert picked.max() == 290 and picked.min() == 0
    assert int(np.asarray(won)[chosen.rows].sum()) == 30
    # the level is the newest 180 days' alone
    assert (picked[chosen.newest] <= 180).all() and (picked[~chosen.newest] > 180).all()


def test_enough_won_leads_in_the_newest_days_keep_the_window_as_it_was() -> None:
    ages = list(range(0, 500, 5))
    chosen = calibration_set(_rows(ages, [True] * len(ages)), LAST_AS_OF, 180, won_leads=10)
    assert np.asarray(ages)[chosen.rows].max() == 180
    assert chosen.newest.all()


def test_too_few_won_leads_anywhere_take_every_cohort_and_no_activity_snapshot() -> None:
    ages = list(range(0, 500, 5))
    periodic = [age != 400 for age in ages]
    chosen = calibration_set(
        _rows(ages, [age == 300 for age in ages], periodic), LAST_AS_OF, 180, 2_000
    )
    assert chosen.rows.sum() == len(ages) - 1 and not chosen.rows[ages.index(400)]


def test_small_exports_get_more_folds_than_large_ones_unless_configured() -> None:
    few = _rows([1] * 10, [True] * 10)
    many = _rows([1] * SMALL_EXPORT_WON_LEADS, [True] * SMALL_EXPORT_WON_LEADS)
    assert fold_count(None, few) == SMALL_EXPORT_FOLDS > LARGE_EXPORT_FOLDS
    assert fold_count(None, many) == LARGE_EXPORT_FOLDS
    assert fold_count(3, few) == 3 and fold_count(0, few) == 0


def test_the_shape_comes_from_every_row_and_the_level_from_the_newest() -> None:
    """Older cohorts convert at twice the odds of the newest: a calibrator fitted on all of them
    over-predicts the newest, and the newest's level brings its expected wins to the observed."""
    rng = np.random.default_rng(0)
    n = 40_000
    z = rng.normal(-3.0, 1.0, n)
    newest = np.arange(n) < n // 4
    y = rng.random(n) < expit(z + np.where(newest, 0.0, np.log(2.0)))
    raw = expit(z)
    calibrator = ProbabilityCalibrator("platt").fit(raw, y)
    assert calibrator.predict(raw[newest]).sum() > 1.3 * y[newest].sum()
    level_on_newest(calibrator, raw, y, newest)
    assert np.isclose(calibrator.predict(raw[newest]).sum(), y[newest].sum(), rtol=1e-4)
    assert -0.9 < calibrator.level_ < -0.5  # about -log 2, as drawn


def test_a_windows_level_is_as_uncertain_as_its_leads_not_its_snapshots() -> None:
    """Ten snapshots of one lead win or lose together: the standard error of the level read
    from them is that of the leads (one win in ten), not of a hundred independent snapshots."""
    p = np.full(100, 0.1)
    one_lead_each = np.arange(100)
    observed = (np.arange(100) % 10 == 0).astype(float)
    independent = level_standard_error(one_lead_each, observed, p)
    # residuals squared sum to 9, under the Poisson variance of 10 expected wins: the floor
    assert np.isclose(independent, np.sqrt(10.0) / 10.0)
    clustered_leads = np.arange(100) // 10
    clustered = (clustered_leads == 0).astype(float)  # the first lead's ten snapshots all win
    assert level_standard_error(clustered_leads, clustered, p) > 2.5 * independent


def test_a_small_exports_served_model_is_calibrated_on_six_folds_with_its_levels_error(
    trained: TrainingResult,
) -> None:
    """The 6,000-lead test world holds a few hundred won leads: six folds, and the standard
    error of the window's level is reported with the level."""
    assert trained.calibration["calibration_folds_used"] == SMALL_EXPORT_FOLDS
    assert 0.02 < trained.calibration["level_se_log_odds"] < 0.5

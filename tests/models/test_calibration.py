"""Calibration: probabilities mean what they say, and the method is chosen by held-out loss."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import NotFittedError

from models.calibration import EPS, ProbabilityCalibrator


def _miscalibrated(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p_true = rng.beta(1, 12, size=n)
    y = (rng.random(n) < p_true).astype(int)
    raw = p_true**0.5  # overconfident raw scores
    return raw, y, p_true


@pytest.mark.parametrize("method", ["platt", "isotonic", "auto"])
def test_calibrated_probabilities_match_frequencies(method: str) -> None:
    raw, y, _ = _miscalibrated(40_000)
    calibrated = ProbabilityCalibrator(method).fit(raw, y).predict(raw)
    assert abs(calibrated.mean() - y.mean()) < 0.01
    top = raw >= np.quantile(raw, 0.9)
    assert abs(calibrated[top].mean() - y[top].mean()) < 0.03
    assert abs(raw[top].mean() - y[top].mean()) > 0.1  # the raw scores were off


def test_auto_picks_the_lower_cross_fitted_log_loss() -> None:
    raw, y, _ = _miscalibrated(20_000)
    calibrator = ProbabilityCalibrator("auto").fit(raw, y)
    losses = calibrator.cv_log_loss_
    assert set(losses) == {"platt", "isotonic"}
    assert calibrator.method_ == min(losses, key=losses.__getitem__)


def test_groups_keep_a_lead_in_one_fold() -> None:
    calibrator = ProbabilityCalibrator("auto")
    groups = np.repeat(np.arange(100), 5)
    folds = calibrator._folds(groups.size, groups)
    assert (np.array([np.unique(folds[groups == g]).size for g in range(100)]) == 1).all()


def test_one_outcome_only_is_an_error() -> None:
    with pytest.raises(ValueError, match="both outcomes"):
        ProbabilityCalibrator().fit(np.random.rand(10), np.zeros(10))


def test_predict_before_fit() -> None:
    with pytest.raises(NotFittedError):
        ProbabilityCalibrator().predict(np.array([0.5]))


def test_platt_is_applied_with_logistic_regressions_own_arithmetic() -> None:
    rng = np.random.default_rng(7)
    raw = rng.random(3_000)
    y = (rng.random(3_000) < raw**1.5).astype(int)
    calibrator = ProbabilityCalibrator("platt").fit(raw, y)
    platt = calibrator.model_
    assert isinstance(platt, LogisticRegression)
    clipped = np.clip(raw, EPS, 1 - EPS)
    logit = np.log(clipped / (1 - clipped))
    expected = platt.predict_proba(logit[:, None])[:, 1]
    assert np.array_equal(calibrator.predict(raw), expected)


def test_level_makes_expected_wins_equal_the_observed_ones() -> None:
    raw, y, p_true = _miscalibrated(20_000)
    calibrator = ProbabilityCalibrator("auto").fit(raw, y)
    assert calibrator.level_ == 0.0
    # newer leads convert at 60 % of the old rate, and half of them are seen for part of the
    # horizon only (exposure 0.4: they can show 40 % of their wins)
    rng = np.random.default_rng(3)
    recent = rng.random(raw.size) < 0.6 * p_true
    exposure = np.where(np.arange(raw.size) % 2 == 0, 1.0, 0.4)
    observed = recent & (rng.random(raw.size) < exposure)
    before = calibrator.predict(raw)
    calibrator.set_level(raw, float(observed.sum()), exposure)
    after = calibrator.predict(raw)
    assert (exposure * after).sum() == pytest.approx(observed.sum(), rel=1e-4)
    assert calibrator.level_ < 0
    # the level is the newer leads' own (their wins observed or not), not the older one
    assert after.mean() == pytest.approx(recent.mean(), rel=0.05)
    assert before.mean() > 1.4 * recent.mean()
    assert np.all(np.diff(after[np.argsort(raw)]) >= 0)  # the order of leads is kept


def test_level_is_stored_with_the_calibrator() -> None:
    raw, y, _ = _miscalibrated(5_000)
    calibrator = ProbabilityCalibrator("platt").fit(raw, y)
    calibrator.set_level(raw, 0.5 * y.sum())
    data = calibrator.to_dict()
    assert data["level"] == calibrator.level_
    loaded = ProbabilityCalibrator.from_dict(data)
    assert np.allclose(loaded.predict(raw), calibrator.predict(raw))
    # a calibrator stored before levels existed had none
    del data["level"]
    unshifted = ProbabilityCalibrator("platt").fit(raw, y).predict(raw)
    assert np.allclose(ProbabilityCalibrator.from_dict(data).predict(raw), unshifted)


def test_a_level_needs_wins_and_non_wins() -> None:
    raw, y, _ = _miscalibrated(2_000)
    calibrator = ProbabilityCalibrator("platt").fit(raw, y)
    with pytest.raises(ValueError, match="observed wins"):
        calibrator.set_level(raw, 0.0)
    with pytest.raises(ValueError, match="observed wins"):
        calibrator.set_level(raw, float(raw.size))
    with pytest.raises(ValueError, match="log-odds"):
        calibrator.set_level(raw, 0.9 * raw.size)

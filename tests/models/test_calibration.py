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

"""Probability calibration: Platt or isotonic, chosen by held-out log loss, and a level.

The level is a shift of the calibrated log-odds that makes the expected number of wins over a
set of recent snapshots equal the number observed (`set_level`): the shape of the mapping is
learnt from many snapshots, its level from the newest ones, which may be only partly observed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.utils.validation import check_is_fitted

log = logging.getLogger(__name__)

EPS = 1e-6
# The level shift is bounded: a larger one means the recent snapshots are not like the rest.
MAX_LEVEL_SHIFT = 3.0
Method = Literal["auto", "platt", "isotonic"]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _fit_one(
    method: str, raw: np.ndarray, y: np.ndarray
) -> LogisticRegression | IsotonicRegression:
    if method == "platt":
        return LogisticRegression(C=1e6).fit(_logit(raw)[:, None], y)
    return IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(raw, y)


def _apply(model: LogisticRegression | IsotonicRegression, raw: np.ndarray) -> np.ndarray:
    if isinstance(model, LogisticRegression):
        # LogisticRegression.predict_proba's arithmetic (expit of x * coef + intercept) without
        # its input checks, which cost more than the maths for the service's few rows.
        return np.asarray(expit(_logit(raw) * model.coef_[0, 0] + model.intercept_[0]))
    # IsotonicRegression.predict's arithmetic (clip to the fitted range, then linear
    # interpolation between thresholds), from its thresholds alone: a stored calibrator is
    # those numbers, not a pickled object.
    x = np.clip(raw, model.X_min_, model.X_max_)
    return np.clip(np.interp(x, model.X_thresholds_, model.y_thresholds_), EPS, 1 - EPS)


class ProbabilityCalibrator(BaseEstimator):
    """Maps raw scores to probabilities that mean what they say.

    With method="auto", Platt and isotonic are compared by two-fold cross-fitted log loss on
    the calibration set (each fold fitted on the other half), then the winner is refitted on
    all of it.
    """

    def __init__(self, method: Method = "auto", random_state: int = 0) -> None:
        self.method = method
        self.random_state = random_state

    def fit(
        self, raw: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
    ) -> ProbabilityCalibrator:
        raw = np.asarray(raw, dtype=float)
        y = np.asarray(y, dtype=int)
        if np.unique(y).size < 2:
            raise ValueError("calibration needs both outcomes in the calibration set")
        self.cv_log_loss_: dict[str, float] = {}
        if self.method == "auto":
            fold = self._folds(len(y), groups)
            for method in ("platt", "isotonic"):
                pred = np.empty_like(raw)
                for k in (0, 1):
                    train, test = fold != k, fold == k
                    pred[test] = _apply(_fit_one(method, raw[train], y[train]), raw[test])
                self.cv_log_loss_[method] = float(log_loss(y, pred, labels=[0, 1]))
            self.method_ = min(self.cv_log_loss_, key=self.cv_log_loss_.__getitem__)
        else:
            self.method_ = self.method
        self.model_ = _fit_one(self.method_, raw, y)
        self.level_ = 0.0
        log.info("calibration: %s (cross-fitted log loss %s)", self.method_, self.cv_log_loss_)
        return self

    def set_level(
        self, raw: np.ndarray, observed_wins: float, exposure: np.ndarray | None = None
    ) -> ProbabilityCalibrator:
        """Shift the calibrated log-odds so that the expected wins of these snapshots,
        sum(exposure * p), equal `observed_wins`.

        `exposure` is the share of a win's chance that a snapshot's observed window can show
        (1 for a fully observed horizon; less for a snapshot whose horizon runs past the
        cut-off), so partly observed snapshots count without biasing the level low.
        """
        check_is_fitted(self, "model_")
        base = _logit(_apply(self.model_, np.asarray(raw, dtype=float)))
        weight = np.ones(base.size) if exposure is None else np.asarray(exposure, dtype=float)
        if not 0 < observed_wins < weight.sum():
            raise ValueError("setting a level needs some observed wins and some non-wins")

        def excess(shift: float) -> float:
            return float((weight * expit(base + shift)).sum() - observed_wins)

        if excess(-MAX_LEVEL_SHIFT) > 0 or excess(MAX_LEVEL_SHIFT) < 0:
            raise ValueError(
                f"the recent level is more than {MAX_LEVEL_SHIFT} log-odds from the calibration"
            )
        self.level_ = float(brentq(excess, -MAX_LEVEL_SHIFT, MAX_LEVEL_SHIFT, xtol=1e-6))
        log.info("calibration level shifted by %+.3f log-odds", self.level_)
        return self

    def _folds(self, n: int, groups: np.ndarray | None) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        if groups is None:
            return rng.permutation(np.arange(n) % 2)
        # whole leads go to one fold, so a lead's snapshots never calibrate each other
        uniques, inverse = np.unique(groups, return_inverse=True)
        return rng.permutation(np.arange(uniques.size) % 2)[inverse]

    def predict(self, raw: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        p = _apply(self.model_, np.asarray(raw, dtype=float))
        if self.level_ == 0.0:
            return p
        return np.clip(expit(_logit(p) + self.level_), EPS, 1 - EPS)

    def to_dict(self) -> dict[str, Any]:
        """The fitted calibrator as JSON values: its method and that method's numbers."""
        check_is_fitted(self, "model_")
        model = self.model_
        if isinstance(model, LogisticRegression):
            numbers = {"coef": float(model.coef_[0, 0]), "intercept": float(model.intercept_[0])}
        else:
            numbers = {
                "x": model.X_thresholds_.tolist(),
                "y": model.y_thresholds_.tolist(),
                "x_min": float(model.X_min_),
                "x_max": float(model.X_max_),
            }
        return {
            "params": {"method": self.method, "random_state": self.random_state},
            "fitted_method": self.method_,
            "cv_log_loss": dict(self.cv_log_loss_),
            "numbers": numbers,
            "level": self.level_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbabilityCalibrator:
        params = data["params"]
        calibrator = cls(params["method"], int(params["random_state"]))
        calibrator.method_ = str(data["fitted_method"])
        calibrator.cv_log_loss_ = {str(k): float(v) for k, v in data["cv_log_loss"].items()}
        numbers = data["numbers"]
        model: LogisticRegression | IsotonicRegression
        if calibrator.method_ == "platt":
            model = LogisticRegression(C=1e6)
            model.coef_ = np.array([[float(numbers["coef"])]])
            model.intercept_ = np.array([float(numbers["intercept"])])
            model.classes_ = np.array([0, 1])
        elif calibrator.method_ == "isotonic":
            model = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip")
            model.X_thresholds_ = np.asarray(numbers["x"], dtype=np.float64)
            model.y_thresholds_ = np.asarray(numbers["y"], dtype=np.float64)
            model.X_min_, model.X_max_ = float(numbers["x_min"]), float(numbers["x_max"])
            model.increasing_ = True
        else:
            raise ValueError(f"unknown calibration method {calibrator.method_!r}")
        calibrator.model_ = model
        # Calibrators stored before the level existed had none.
        calibrator.level_ = float(data.get("level", 0.0))
        return calibrator

"""The conversion model: LightGBM with native categoricals, early stopping and calibration."""

from __future__ import annotations

import logging
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from models.calibration import Method, ProbabilityCalibrator

log = logging.getLogger(__name__)


class ConversionModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees fitted on train, early-stopped and calibrated on validation."""

    def __init__(
        self,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 200,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        max_rounds: int = 1000,
        early_stopping_rounds: int = 50,
        calibration: Method = "auto",
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.n_jobs = n_jobs
        self.random_state = random_state

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "cat_smooth": 20,
            "min_data_per_group": 50,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "verbosity": -1,
        }

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        groups_val: np.ndarray | None = None,
    ) -> ConversionModel:
        """Fit trees on (X, y); stop early and calibrate on the later (X_val, y_val)."""
        train_set = lgb.Dataset(X, label=np.asarray(y), free_raw_data=True)
        val_set = lgb.Dataset(X_val, label=np.asarray(y_val), reference=train_set)
        self.booster_ = lgb.train(
            self.lgb_params(),
            train_set,
            num_boost_round=self.max_rounds,
            valid_sets=[val_set],
            valid_names=["validation"],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.best_iteration_ = int(self.booster_.best_iteration or self.max_rounds)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.classes_ = np.array([0, 1])
        raw_val = self.predict_raw(X_val)
        self.calibrator_ = ProbabilityCalibrator(self.calibration, self.random_state).fit(
            raw_val, np.asarray(y_val), groups_val
        )
        log.info("LightGBM stopped at %d trees", self.best_iteration_)
        return self

    def refit_all(self, X: pd.DataFrame, y: np.ndarray) -> ConversionModel:
        """Regrow the trees on all of (X, y) with the early-stopped round count; keep calibration.

        For the served model: validation rows then inform the trees too, while the calibrator
        stays the one fitted on validation rows the trees had not seen.
        """
        check_is_fitted(self, "calibrator_")
        self.booster_ = lgb.train(
            self.lgb_params(), lgb.Dataset(X, label=np.asarray(y)), self.best_iteration_
        )
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated tree probabilities."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(X, num_iteration=self.best_iteration_))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.calibrator_.predict(self.predict_raw(X))
        return np.column_stack([1 - p, p])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """SHAP contributions in raw log-odds per feature, plus the `bias` column."""
        check_is_fitted(self, "booster_")
        contrib = self.booster_.predict(X, num_iteration=self.best_iteration_, pred_contrib=True)
        return pd.DataFrame(
            np.asarray(contrib), columns=[*self.feature_names_in_, "bias"], index=X.index
        )

"""The conversion model: LightGBM averaged with a logistic regression, early stopping, calibration.

LightGBM (native categoricals, early-stopped on the later validation cohort) and a linear
log-odds model on the same features are averaged in log-odds (`linear_weight`), then calibrated
on validation. Both read the same float matrix (`feature_matrix`), which is also what the
service builds, so every path scores with the same arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import log_loss
from sklearn.utils.validation import check_is_fitted

from models.calibration import Method, ProbabilityCalibrator
from models.float_matrix import feature_matrix
from models.linear import LinearLogOdds
from models.linear_rows import fit_linear_part
from models.side_by_side import side_by_side, threads_each
from models.tree_data import lgb_dataset
from models.treeshap import TreeShapTable

log = logging.getLogger(__name__)


LINEAR_WEIGHTS = (0.0, 0.5)
# Rows predicted at a time: the float64 matrix and the linear terms of a chunk stay small.
PREDICT_CHUNK_ROWS = 100_000


def _validation_log_loss(
    calibrator: ProbabilityCalibrator, raw: np.ndarray, y_val: np.ndarray
) -> float:
    """A calibrated candidate's validation log loss: cross-fitted when the calibrator has it."""
    if calibrator.cv_log_loss_:
        return float(calibrator.cv_log_loss_[calibrator.method_])
    return float(log_loss(y_val, calibrator.predict(raw), labels=[0, 1]))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


class ConversionModel(ClassifierMixin, BaseEstimator):
    """Trees (+ a linear model) fitted on train, early-stopped and calibrated on validation.

    `linear_weight` is the linear model's share of the averaged log-odds (0 = trees alone), or
    "auto": the one of `LINEAR_WEIGHTS` whose calibrated probabilities have the lowest
    cross-fitted log loss on validation (`linear_weight_`). On the demo world the average gets
    closer to the Bayes-optimal probabilities than either model alone (docs/modeling.md): the
    linear model has less variance, the trees catch what is not additive. Where the linear
    model extrapolates badly (a drifting numeric feature), validation picks the trees alone.
    """

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
        linear_weight: float | Literal["auto"] = "auto",
        linear_C: float = 0.1,
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
        self.linear_weight = linear_weight
        self.linear_C = linear_C
        self.n_jobs = n_jobs
        self.random_state = random_state

    def lgb_params(self, threads: int | None = None) -> dict[str, Any]:
        """LightGBM's parameters; `threads` (default `n_jobs`) leaves the trees as they are."""
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
            "num_threads": threads or self.n_jobs,
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
        sample_weight: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> ConversionModel:
        """Fit trees and linear model on (X, y); stop early and calibrate on (X_val, y_val).

        `sample_weight`: per row of X (sampled negatives weigh 1 / their share); the
        validation rows are never sampled, so early stopping and calibration see leads as
        they come. `rows`: the positions of X (and of y and `sample_weight`) to fit on
        (None: all), read in place instead of a copy of those rows.
        """
        weights = LINEAR_WEIGHTS if self.linear_weight == "auto" else (self.linear_weight,)
        if not all(isinstance(w, float | int) and 0.0 <= w < 1.0 for w in weights):
            raise ValueError(f"linear_weight must be 'auto' or in [0, 1), got {self.linear_weight}")
        self.category_dtypes_ = {
            str(name): dtype
            for name, dtype in X.dtypes.items()
            if isinstance(dtype, pd.CategoricalDtype)
        }
        rows = np.arange(len(X)) if rows is None else np.asarray(rows)
        y = np.asarray(y)[rows]
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        self.learn_range(X, rows)
        self.sample_weighted_ = sample_weight is not None
        n_parts = 2 if max(weights) > 0 else 1
        threads = threads_each(self.n_jobs, n_parts)

        # The trees' datasets are built first: building one (its bins' sample, its batches of
        # rows) holds more memory for a while than the binned dataset it leaves, and the linear
        # part's design, a fit's largest matrix, does not exist yet.
        datasets = [lgb_dataset(X, y, sample_weight, rows=rows)]
        datasets.append(lgb_dataset(X_val, y_val, reference=datasets[0]))

        def grow_trees() -> lgb.Booster:
            train_set, val_set = datasets
            return lgb.train(
                self.lgb_params(threads),
                train_set,
                num_boost_round=self.max_rounds,
                valid_sets=[val_set],
                valid_names=["validation"],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )

        # The trees and the linear part learn independently: side by side, a core each. Beside
        # the linear design live only LightGBM's binned datasets (a byte or two per value).
        parts: list[Callable[[], Any]] = [grow_trees]
        if n_parts == 2:
            parts.append(lambda: fit_linear_part(self, X, y, sample_weight, rows))
        fitted_parts = side_by_side(parts, self.n_jobs)
        datasets.clear()  # the binned datasets go before predicting
        self.booster_ = fitted_parts[0]
        linear = fitted_parts[1] if n_parts == 2 else None
        self.best_iteration_ = int(self.booster_.best_iteration or self.max_rounds)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.classes_ = np.array([0, 1])
        self.linear_ = linear
        # Each model predicts validation once; the candidates only weigh the two.
        trees_val = self.predict_by_chunk(X_val, lambda A: self._trees(A, None, raw_score=True))
        linear_val = (
            self.predict_by_chunk(X_val, linear.decision_function) if linear is not None else 0.0
        )
        raw = {w: _sigmoid((1 - w) * trees_val + w * linear_val) for w in weights}
        fitted = {
            w: ProbabilityCalibrator(self.calibration, self.random_state).fit(
                raw[w], np.asarray(y_val), groups_val
            )
            for w in weights
        }
        # Cross-fitted when "auto" calibration compares methods; else the in-sample log loss.
        chosen = min(weights, key=lambda w: _validation_log_loss(fitted[w], raw[w], y_val))
        self.linear_weight_ = float(chosen)
        self.calibrator_ = fitted[chosen]
        if self.linear_weight_ == 0:
            self.linear_ = None
        log.info(
            "LightGBM stopped at %d trees; linear weight %.2f",
            self.best_iteration_,
            self.linear_weight_,
        )
        return self

    def recalibrate(
        self, raw: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
    ) -> ConversionModel:
        """Fit the calibrator anew on these uncalibrated probabilities and outcomes."""
        self.calibrator_ = ProbabilityCalibrator(self.calibration, self.random_state).fit(
            raw, np.asarray(y), groups
        )
        return self

    def learn_range(self, X: pd.DataFrame, rows: np.ndarray | None = None) -> None:
        """The range of each number in the `rows` of X (None: all); category codes are left
        unbounded.

        Column by column: no float copy of a million-row frame."""
        low = np.full(X.shape[1], -np.inf)
        high = np.full(X.shape[1], np.inf)
        for j, dtype in enumerate(X.dtypes):
            if not isinstance(dtype, pd.CategoricalDtype):
                values = X.iloc[:, j].to_numpy()
                if rows is not None:
                    values = values[rows]
                present = values[~np.isnan(values)]
                if len(present):
                    low[j], high[j] = float(present.min()), float(present.max())
        self.feature_low_, self.feature_high_ = low, high

    def clip_to_training(self, A: np.ndarray) -> np.ndarray:
        """`A` with each number clipped to the range seen in training (NaN stays NaN).

        Trees already treat values beyond the training range like its edge, so this changes
        nothing for them; it bounds the linear part and the values reasons quote.
        """
        return np.clip(A, self.feature_low_, self.feature_high_)

    def _clip_in_place(
        self, A: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """`clip_to_training` (or to `bounds`) of a matrix this model built: no second one."""
        low, high = bounds or (self.feature_low_, self.feature_high_)
        return np.clip(A, low, high, out=A)

    def bind_categories(self, dtypes: Mapping[str, pd.CategoricalDtype]) -> None:
        """Check the featurizer's category levels are the trained ones, and adopt its dtypes.

        Codes in a float matrix only mean the trained level when the levels are the same, in
        the same order; a mismatch raises here, once, instead of scoring wrong levels. The
        adopted dtype objects let `matrix` check frames by identity at no cost per call.
        """
        own = self.category_dtypes_
        if set(own) != set(dtypes):
            raise ValueError("the model was trained on other categorical features")
        for name, dtype in dtypes.items():
            if list(own[name].categories) != list(dtype.categories):
                raise ValueError(f"the model was trained on other levels of {name!r}")
        self.category_dtypes_ = dict(dtypes)

    def matrix(
        self,
        X: pd.DataFrame,
        rows: np.ndarray | None = None,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """The float matrix both models read (category codes of the training levels), with
        numbers clipped to the training range (or `bounds`); of the `rows` of X when given."""
        return self._clip_in_place(feature_matrix(X, self.category_dtypes_, rows), bounds)

    def _trees(self, A: np.ndarray, num_threads: int | None, **kind: bool) -> np.ndarray:
        """LightGBM's raw scores or SHAP contributions (`kind`) for the rows of `A`, on
        `num_threads` threads (None: the model's `n_jobs`; trees grown side by side keep
        `num_threads=1` in their own parameters, which batch scoring would otherwise inherit).
        A row's prediction is the same on any number of threads."""
        check_is_fitted(self, "booster_")
        threads = self.n_jobs if num_threads is None else num_threads
        return np.asarray(
            self.booster_.predict(
                A, num_iteration=self.best_iteration_, num_threads=threads, **kind
            )
        )

    def tree_shap(self) -> TreeShapTable | None:
        """The trees' SHAP table (built once per booster), or None when the trees are too big."""
        check_is_fitted(self, "booster_")
        cached = getattr(self, "_tree_shap", None)
        if cached is None or cached[0] is not self.booster_:
            cached = (
                self.booster_,
                TreeShapTable.from_booster(self.booster_, self.best_iteration_),
            )
            self._tree_shap = cached
        return cached[1]

    def __getstate__(self) -> dict[str, Any]:
        # The table is derived from the booster: never copied with the model (Dask, joblib).
        state = dict(super().__getstate__())
        state.pop("_tree_shap", None)
        return state

    def raw_from_matrix(self, A: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Uncalibrated probabilities: the models' log-odds averaged, before calibration."""
        trees = self._trees(A, num_threads, raw_score=True)
        return self.combine(trees, self.linear_, A)

    def combine(self, trees: np.ndarray, linear: LinearLogOdds | None, A: np.ndarray) -> np.ndarray:
        """The trees' and the linear model's log-odds averaged, as a probability."""
        if linear is None:
            return _sigmoid(trees)
        w = self.linear_weight_
        return _sigmoid((1 - w) * trees + w * linear.decision_function(A))

    def proba_from_matrix(self, A: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Calibrated probabilities of conversion, one per row of `A`.

        The model's implementation of scoring; `predict_proba` (a DataFrame, for sklearn) is
        an adapter that builds the matrix and calls it.
        """
        return np.asarray(self.calibrator_.predict(self.raw_from_matrix(A, num_threads)))

    def proba_from_contributions(self, contributions: np.ndarray) -> np.ndarray:
        """`proba_from_matrix` for rows already explained: `contributions_from_matrix` adds up
        to the uncalibrated log-odds, so scoring with reasons reads the trees once, not twice
        (equal to `proba_from_matrix` to rounding, ~1e-16)."""
        check_is_fitted(self, "calibrator_")
        return np.asarray(self.calibrator_.predict(_sigmoid(contributions.sum(axis=1))))

    def contributions_from_matrix(
        self, A: np.ndarray, num_threads: int | None = None
    ) -> np.ndarray:
        """Per row, each feature's log-odds contribution (tree SHAP and linear terms, averaged
        as the log-odds are), then the bias column; a row adds up to its uncalibrated log-odds.
        """
        table = self.tree_shap()
        trees = (
            table.contributions(A)
            if table is not None
            else self._trees(A, num_threads, pred_contrib=True)
        )
        linear = self.linear_
        if linear is None:
            return trees
        w = self.linear_weight_
        both = (1 - w) * trees
        both[:, :-1] += w * linear.contributions(A)
        both[:, -1] += w * linear.bias_
        return both

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probabilities (see `raw_from_matrix`)."""
        return self.predict_by_chunk(X, self.raw_from_matrix)

    def predict_proba(
        self, X: pd.DataFrame, rows: np.ndarray | None = None, num_threads: int | None = None
    ) -> np.ndarray:
        """sklearn's adapter of `proba_from_matrix`: [1 - p, p] per row of a feature frame
        (built in chunks of rows), or per row of its `rows` (positions) when given, on
        `num_threads` threads (None: `n_jobs`)."""
        p = self.predict_by_chunk(X, partial(self.proba_from_matrix, num_threads=num_threads), rows)
        return np.column_stack([1 - p, p])

    def predict_by_chunk(
        self,
        X: pd.DataFrame,
        predict: Any,
        rows: np.ndarray | None = None,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """`predict` of the float matrix of X (of its `rows` when given; numbers clipped to
        `bounds`, default the training range), built and read `PREDICT_CHUNK_ROWS` rows at a
        time."""
        if rows is None:
            if len(X) <= PREDICT_CHUNK_ROWS:
                return np.asarray(predict(self.matrix(X, bounds=bounds)))
            chunks = (
                self.matrix(X.iloc[start : start + PREDICT_CHUNK_ROWS], bounds=bounds)
                for start in range(0, len(X), PREDICT_CHUNK_ROWS)
            )
        else:
            chunks = (
                self.matrix(X, rows[start : start + PREDICT_CHUNK_ROWS], bounds)
                for start in range(0, len(rows), PREDICT_CHUNK_ROWS)
            )
        return np.concatenate([np.asarray(predict(A)) for A in chunks] or [np.empty(0)])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Log-odds contributions per feature, plus the `bias` column."""
        contrib = self.contributions_from_matrix(self.matrix(X))
        return pd.DataFrame(contrib, columns=[*self.feature_names_in_, "bias"], index=X.index)

"""A logistic regression on the trees' float matrix, with exact per-feature contributions.

The conversion model averages its log-odds with LightGBM's (see `ConversionModel`): on lead
data the log-odds of conversion are close to additive in log-scaled activity counts, which a
linear model learns with far less variance than trees do from the same rows. It reads the same
float matrix LightGBM predicts from (category codes, missing as NaN), so batch scoring and the
service run it without pandas or scikit-learn pipelines on the way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from models.float_matrix import FeatureColumns, MatrixColumns
from models.linear_solver import LinearDesign, fit_logistic


def floats_to_json(values: np.ndarray) -> list[float | str]:
    """Floats as strict JSON values: infinities (unbounded ranges) as "inf" / "-inf"."""
    return [
        float(v) if np.isfinite(v) else ("inf" if v > 0 else "-inf")
        for v in np.asarray(values, dtype=np.float64)
    ]


def floats_from_json(values: list[float | str]) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=np.float64)


# Numeric columns whose temporaries (log-scaled, standardised, missing) exist at a time.
TERM_BLOCK = 8


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log1p of the magnitude with the sign kept: counts and sizes on a log scale.

    The sign is copied onto the result in place (the values of sign(x) * log1p(|x|), with
    one temporary fewer)."""
    out = np.log1p(np.abs(x))
    return np.copysign(out, x, out=out)


def training_range(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the smallest and largest value seen (NaN ignored; an all-missing column
    is unbounded)."""
    present = ~np.isnan(values)
    seen = present.any(axis=0)
    low = np.where(seen, np.min(np.where(present, values, np.inf), axis=0, initial=np.inf), -np.inf)
    high = np.where(
        seen, np.max(np.where(present, values, -np.inf), axis=0, initial=-np.inf), np.inf
    )
    return low, high


class LinearLogOdds(ClassifierMixin, BaseEstimator):
    """L2 logistic regression: one-hot category codes, log-scaled standardised numbers.

    Missing numbers take the training median plus a missing indicator. Numbers are clipped to
    the range seen in training (`low_`, `high_`): a linear model extrapolates without bound, so
    a company of 1e308 employees would otherwise be near-certain to convert. `contributions`
    are exact for a linear model: each feature's term minus its training mean, so a row's
    contributions plus `bias_` add up to its log-odds.
    """

    def __init__(
        self,
        categorical_positions: tuple[int, ...] = (),
        n_levels: tuple[int, ...] = (),
        C: float = 0.1,
        max_iter: int = 500,
    ) -> None:
        self.categorical_positions = categorical_positions
        self.n_levels = n_levels
        self.C = C
        self.max_iter = max_iter

    def _numeric_positions(self, n_features: int) -> np.ndarray:
        categorical = set(self.categorical_positions)
        return np.array([j for j in range(n_features) if j not in categorical], dtype=int)

    def _blocks(self) -> Iterator[slice]:
        """Slices of the numeric positions, `TERM_BLOCK` at a time."""
        n_numeric = len(self.numeric_positions_)
        for start in range(0, n_numeric, TERM_BLOCK):
            yield slice(start, min(start + TERM_BLOCK, n_numeric))

    def _numeric_terms(self, A: FeatureColumns) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        """Per block of numeric columns: its slice, the standardised log-scaled numbers
        (missing at the median) and where they were missing.

        By blocks of columns: every step is elementwise, so the terms are those of the whole
        matrix at once, with temporaries of one block (at 250,000 rows the whole-matrix
        temporaries were a training run's peak: docs/benchmarks.md).
        """
        for block in self._blocks():
            values = A.take(self.numeric_positions_[block])
            missing = np.isnan(values)
            filled = np.clip(
                np.where(missing, self.median_[block], values),
                self.low_[block],
                self.high_[block],
            )
            z = (signed_log1p(filled) - self.mean_[block]) / self.scale_[block]
            yield block, z, missing

    def _level_codes(self, A: FeatureColumns) -> list[np.ndarray]:
        """Per categorical, integer codes with NaN (never produced by the featurizer) as 0."""
        codes = []
        for position, n in zip(self.categorical_positions, self.n_levels, strict=True):
            raw = A.take(np.array([position]))[:, 0]
            codes.append(np.clip(np.where(np.isnan(raw), 0, raw), 0, n - 1).astype(np.int64))
        return codes

    def _learn_statistics(self, A: FeatureColumns) -> None:
        """Median, training range, mean and scale of each number, by blocks of columns.

        Reductions run down the rows of each column, so a block gives a column the same
        value the whole matrix would."""
        n_numeric = len(self.numeric_positions_)
        self.median_ = np.empty(n_numeric)
        self.low_, self.high_ = np.empty(n_numeric), np.empty(n_numeric)
        self.mean_, self.scale_ = np.empty(n_numeric), np.empty(n_numeric)
        self.has_missing_ = np.empty(n_numeric, dtype=bool)
        for block in self._blocks():
            values = A.take(self.numeric_positions_[block])
            missing = np.isnan(values)
            with np.errstate(all="ignore"):
                median = np.nanmedian(np.where(missing.all(axis=0), 0.0, values), axis=0)
            self.median_[block] = np.nan_to_num(median)
            self.low_[block], self.high_[block] = training_range(values)
            logged = signed_log1p(np.where(missing, self.median_[block], values))
            self.mean_[block] = logged.mean(axis=0)
            scale = logged.std(axis=0)
            self.scale_[block] = np.where(scale > 0, scale, 1.0)
            self.has_missing_[block] = missing.any(axis=0)

    def design(self, A: FeatureColumns) -> LinearDesign:
        """Learn the terms' statistics from the columns `A` and write their terms into the
        design (`LinearDesign`: numbers and indicators dense, categoricals as level codes).
        `A` is read a few columns at a time, so only the design's dense part is as large as
        the fitting rows (`ConversionModel` passes the feature frame's columns).
        """
        self.n_features_in_ = A.shape[1]
        self.numeric_positions_ = self._numeric_positions(A.shape[1])
        self._learn_statistics(A)
        codes = self._level_codes(A)
        n_numeric = len(self.numeric_positions_)
        indicator_of = np.cumsum(self.has_missing_) - 1  # column among the indicators
        dense = np.zeros((A.shape[0], n_numeric + int(self.has_missing_.sum())))
        for block, z, missing in self._numeric_terms(A):
            dense[:, block] = z
            has = self.has_missing_[block]
            if has.any():
                dense[:, n_numeric + indicator_of[block][has]] = missing[:, has]
        return LinearDesign(dense, codes, tuple(self.n_levels), n_numeric)

    def fit(
        self, A: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> LinearLogOdds:
        """Fit on the float matrix `A`; `sample_weight` weighs rows (sampled negatives), in the
        fit and in the average lead that contributions are measured from."""
        return self.fit_design(self.design(MatrixColumns(A)), y, sample_weight)

    def fit_design(
        self, design: LinearDesign, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> LinearLogOdds:
        """Fit on the design `design` built (`design`) from the fitting rows' float matrix."""
        codes, n_numeric = design.codes, design.n_numeric
        # Training means of every term: contributions are measured from the average lead.
        indicators = design.indicators
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if weights is None:
            self.indicator_mean_ = indicators.mean(axis=0) if len(indicators) else indicators.sum(0)
        else:
            # A column-major copy, as the indicators always were (a column selection of the
            # matrix): each column's weighted sum then runs in the same order.
            self.indicator_mean_ = np.average(
                np.asfortranarray(indicators), axis=0, weights=weights
            )
        del indicators
        # Newton steps on a dense Hessian: a few hundred columns, so the exact optimum in
        # about 7 iterations is 2.5x faster than L-BFGS on a sparse design (about 14 s on
        # 330,000 rows).
        coef, self.intercept_ = fit_logistic(design, y, sample_weight, self.C, self.max_iter)
        self.numeric_coef_ = coef[:n_numeric]
        self.indicator_coef_ = coef[n_numeric : design.first_level]
        offsets = design.offsets - design.first_level
        level_coef = coef[design.first_level :]
        self.level_coef_ = [level_coef[offsets[k] : offsets[k + 1]] for k in range(len(codes))]
        if weights is None:
            self.level_mean_ = [
                float(table[c].mean()) for table, c in zip(self.level_coef_, codes, strict=True)
            ]
        else:
            self.level_mean_ = [
                float(np.average(table[c], weights=weights))
                for table, c in zip(self.level_coef_, codes, strict=True)
            ]
        self.bias_ = (
            self.intercept_
            + float(self.indicator_coef_ @ self.indicator_mean_)
            + float(sum(self.level_mean_))
        )
        self.classes_ = np.array([0, 1])
        return self

    _ARRAYS = (
        "median_",
        "low_",
        "high_",
        "mean_",
        "scale_",
        "numeric_coef_",
        "indicator_coef_",
        "indicator_mean_",
    )

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON values (see `from_dict`)."""
        check_is_fitted(self, "bias_")
        return {
            "params": {
                "categorical_positions": list(self.categorical_positions),
                "n_levels": list(self.n_levels),
                "C": self.C,
                "max_iter": self.max_iter,
            },
            "n_features_in": int(self.n_features_in_),
            "numeric_positions": self.numeric_positions_.tolist(),
            "has_missing": self.has_missing_.tolist(),
            **{name: floats_to_json(getattr(self, name)) for name in self._ARRAYS},
            "level_coef": [floats_to_json(table) for table in self.level_coef_],
            "level_mean": [float(v) for v in self.level_mean_],
            "intercept": float(self.intercept_),
            "bias": float(self.bias_),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearLogOdds:
        params = data["params"]
        linear = cls(
            tuple(int(p) for p in params["categorical_positions"]),
            tuple(int(n) for n in params["n_levels"]),
            C=float(params["C"]),
            max_iter=int(params["max_iter"]),
        )
        linear.n_features_in_ = int(data["n_features_in"])
        linear.numeric_positions_ = np.asarray(data["numeric_positions"], dtype=int)
        linear.has_missing_ = np.asarray(data["has_missing"], dtype=bool)
        for name in cls._ARRAYS:
            setattr(linear, name, floats_from_json(data[name]))
        linear.level_coef_ = [floats_from_json(table) for table in data["level_coef"]]
        linear.level_mean_ = [float(v) for v in data["level_mean"]]
        linear.intercept_ = float(data["intercept"])
        linear.bias_ = float(data["bias"])
        linear.classes_ = np.array([0, 1])
        return linear

    def contributions(self, A: np.ndarray) -> np.ndarray:
        """Per row and feature, its term's log-odds minus the training mean (no bias column)."""
        check_is_fitted(self, "bias_")
        columns = MatrixColumns(A)
        out = np.zeros((columns.shape[0], self.n_features_in_))
        indicator_of = np.cumsum(self.has_missing_) - 1
        for block, z, missing in self._numeric_terms(columns):
            positions = self.numeric_positions_[block]
            out[:, positions] = z * self.numeric_coef_[block]
            has = self.has_missing_[block]
            if has.any():
                which = indicator_of[block][has]
                indicators = missing[:, has].astype(np.float64)
                out[:, positions[has]] += (
                    indicators - self.indicator_mean_[which]
                ) * self.indicator_coef_[which]
        for k, codes in enumerate(self._level_codes(columns)):
            out[:, self.categorical_positions[k]] = self.level_coef_[k][codes] - self.level_mean_[k]
        return out

    def decision_function(self, A: np.ndarray) -> np.ndarray:
        """Log-odds of conversion."""
        return np.asarray(self.contributions(A).sum(axis=1) + self.bias_)

    def predict_proba(self, A: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(A)))
        return np.column_stack([1 - p, p])

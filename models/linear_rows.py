"""The linear part of a conversion model, fitted on a bounded sample of rows read from the
feature frame a few columns at a time: no float64 matrix of every fitting row."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from models.float_matrix import feature_matrix
from models.linear import LinearLogOdds

if TYPE_CHECKING:
    from models.conversion import ConversionModel

# The linear part has a few hundred coefficients: this many rows pin them down far below its
# regularisation, while its dense design (float64, one-hot, several working copies) on every
# row of a million-lead export would need more memory than the trees' whole dataset.
LINEAR_FIT_ROWS = 250_000


def linear_fit_rows(n_rows: int, seed: int, limit: int = LINEAR_FIT_ROWS) -> np.ndarray:
    """Rows a linear fit reads: all of them up to `limit`, else a seeded sample, in order."""
    if n_rows <= limit:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=limit, replace=False))


class FrameColumns:
    """Columns of `model.matrix(X, rows)` taken a few at a time (`FeatureColumns`): the linear
    part reads its terms from the frame without that float64 matrix of its fitting rows."""

    def __init__(
        self,
        model: ConversionModel,
        X: pd.DataFrame,
        rows: np.ndarray,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.model, self.X, self.rows = model, X, rows
        # numbers clipped to `bounds` (low, high per column), by default the model's range
        self.bounds = bounds or (model.feature_low_, model.feature_high_)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), self.X.shape[1])

    def take(self, positions: np.ndarray) -> np.ndarray:
        model = self.model
        part = feature_matrix(self.X.iloc[:, positions], model.category_dtypes_, self.rows)
        low, high = self.bounds
        np.clip(part, low[positions], high[positions], out=part)
        return np.asfortranarray(part)  # as a column selection of the whole matrix would be


def fit_linear_part(
    model: ConversionModel,
    X: pd.DataFrame,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> LinearLogOdds:
    """`model`'s linear part on (a bounded sample of) the `rows` of X; y and `sample_weight`
    per fitting row; numbers clipped to `bounds` (None: the model's training range). Its terms
    are read from the frame's columns a few at a time (`FrameColumns`)."""
    dtypes = model.category_dtypes_
    positions = tuple(i for i, name in enumerate(X.columns) if name in dtypes)
    levels = tuple(len(dtypes[str(X.columns[i])].categories) for i in positions)
    linear = LinearLogOdds(positions, levels, C=model.linear_C)
    sample = linear_fit_rows(len(rows), model.random_state)
    weight = None if sample_weight is None else np.asarray(sample_weight)[sample]
    design = linear.design(FrameColumns(model, X, rows[sample], bounds))
    return linear.fit_design(design, np.asarray(y)[sample], weight)

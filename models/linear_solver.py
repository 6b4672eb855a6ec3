"""The linear model's design and its solver: the terms of the fitting rows without a one-hot block.

The linear part's design has a column per coefficient: standardised numbers, missing
indicators and one column per level of each categorical. As one dense float64 matrix of its
250,000 fitting rows it was a training run's largest allocation (0.56 GB at the 100,000-lead
world, docs/benchmarks.md), and more than a third of it was one-hot zeros. `LinearDesign` keeps
the numbers and indicators dense and each categorical as its level codes; sklearn's
newton-cholesky solver (`NewtonCholeskySolver`, the one `LogisticRegression` runs) reads it
through the three products it needs (`X @ w`, `X.T @ v` and the Hessian `X.T @ diag(W) @ X`),
so the coefficients are `LogisticRegression`'s on the dense design to rounding (about 1e-14).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn._loss.loss import HalfBinomialLoss
from sklearn.linear_model import _linear_loss
from sklearn.linear_model._glm._newton_solver import NewtonCholeskySolver

# Rows of the design expanded at a time for the solver's Hessian.
HESSIAN_BLOCK_ROWS = 16_384
# `LogisticRegression`'s own stopping tolerance (its default `tol`).
SOLVER_TOL = 1e-4


class LinearDesign:
    """The design matrix of the linear model's fitting rows, one column per coefficient:
    `dense` holds the standardised numbers (its first `n_numeric` columns) and the missing
    indicators; then a one-hot column per level of each categorical, held as its `codes`."""

    def __init__(
        self,
        dense: np.ndarray,
        codes: list[np.ndarray],
        n_levels: tuple[int, ...],
        n_numeric: int,
    ) -> None:
        self.dense, self.codes, self.n_levels = dense, codes, n_levels
        self.n_numeric = n_numeric
        self.first_level = dense.shape[1]
        self.offsets = np.cumsum([0, *n_levels]) + self.first_level
        self.shape = (dense.shape[0], int(self.offsets[-1]))
        self.dtype = np.dtype(np.float64)
        self.ndim = 2

    @property
    def indicators(self) -> np.ndarray:
        return self.dense[:, self.n_numeric :]

    def __matmul__(self, w: np.ndarray) -> np.ndarray:
        out = self.dense @ w[: self.first_level]
        for c, start, stop in zip(self.codes, self.offsets[:-1], self.offsets[1:], strict=True):
            out += w[start:stop][c]
        return np.asarray(out)

    @property
    def T(self) -> _Transposed:  # the name sklearn's solver calls
        return _Transposed(self)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop of the design as one dense block (the one-hot columns written)."""
        block = np.zeros((min(stop, self.shape[0]) - start, self.shape[1]))
        block[:, : self.first_level] = self.dense[start:stop]
        at = np.arange(len(block))
        for c, offset in zip(self.codes, self.offsets, strict=False):
            block[at, offset + c[start:stop]] = 1.0
        return block

    def sandwich(self, W: np.ndarray) -> np.ndarray:
        """X.T @ diag(W) @ X summed over blocks of rows: one block's dense copy at a time."""
        out = np.zeros((self.shape[1], self.shape[1]))
        for start in range(0, self.shape[0], HESSIAN_BLOCK_ROWS):
            block = self.rows(start, start + HESSIAN_BLOCK_ROWS)
            out += block.T @ (W[start : start + HESSIAN_BLOCK_ROWS, None] * block)
        return out


class _Transposed:
    """`LinearDesign.T`: what `X.T @ v` reads."""

    def __init__(self, design: LinearDesign) -> None:
        self.design = design

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        design = self.design
        parts = [design.dense.T @ v]
        parts += [
            np.bincount(c, weights=v, minlength=n)
            for c, n in zip(design.codes, design.n_levels, strict=True)
        ]
        return np.concatenate(parts)


_SANDWICH_DOT = _linear_loss.sandwich_dot


def _sandwich(X: Any, W: np.ndarray) -> np.ndarray:
    if isinstance(X, LinearDesign):
        return X.sandwich(W)
    return np.asarray(_SANDWICH_DOT(X, W))


@contextmanager
def _design_hessian() -> Iterator[None]:
    """sklearn's solver forms its Hessian with `sandwich_dot`; while a `LinearDesign` is
    solved, by its blocks of rows."""
    _linear_loss.sandwich_dot = _sandwich
    try:
        yield
    finally:
        _linear_loss.sandwich_dot = _SANDWICH_DOT


def fit_logistic(
    design: LinearDesign,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    C: float,
    max_iter: int,
) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of an L2 logistic regression on `design`: what
    `LogisticRegression(C=C, max_iter=max_iter, solver="newton-cholesky").fit` computes on
    the dense design (its objective, start, step and stopping rule), without that matrix."""
    y = np.asarray(y)
    if len(np.unique(y)) != 2:
        raise ValueError("the linear model needs both outcomes among its fitting rows")
    target = (y == np.max(y)).astype(np.float64)
    weights = None if sample_weight is None else np.array(sample_weight, dtype=np.float64)
    # sklearn's objective is C * sum(loss) + penalty; its loss object the mean loss.
    weight_sum = len(y) if weights is None else float(np.sum(weights))
    solver = NewtonCholeskySolver(
        coef=np.zeros(design.shape[1] + 1),
        linear_loss=_linear_loss.LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True),
        l2_reg_strength=1.0 / (C * weight_sum),
        tol=SOLVER_TOL,
        max_iter=max_iter,
        n_threads=1,
    )
    with _design_hessian():
        coef = solver.solve(X=design, y=target, sample_weight=weights)
    return coef[:-1], float(coef[-1])

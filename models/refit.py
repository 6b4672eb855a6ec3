"""Regrowing a fitted conversion model on every row, and the models that score each fold of
leads out of fold: what the served model would say of leads it had not seen, for its
calibrator (`training.calibration_set`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from models.conversion import ConversionModel
from models.linear import LinearLogOdds
from models.linear_rows import fit_linear_part
from models.side_by_side import side_by_side, threads_each
from models.tree_data import lgb_dataset


def refit_all(
    model: ConversionModel,
    X: pd.DataFrame,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    fold: np.ndarray | None = None,
    targets: Sequence[tuple[pd.DataFrame, np.ndarray | None, np.ndarray]] = (),
) -> list[np.ndarray]:
    """Regrow the trees (and linear model) on all of (X, y) with the early-stopped round
    count. The calibrator is kept: `model.recalibrate` it for the regrown
    model's own scores.

    With `fold` (one per row of X), also return each target's uncalibrated probabilities
    out of fold. A target is a frame, its rows by position (None: all; no copy of them) and
    a fold per target row: each row scored by trees and
    linear model grown the same way on the rows of (X, y) in the other folds, what the
    regrown model would say of a lead it had not seen. The folds' linear models read
    numbers clipped to the range the early-stopped fit learnt; the regrown one, to the
    range of all of X. The growths run side by side (`side_by_side`): each set of trees a
    task, the linear models one after another in one more (one design alive at a time, never
    while a growth builds its dataset).
    """
    check_is_fitted(model, "calibrator_")
    y = np.asarray(y)
    fold_bounds = (model.feature_low_, model.feature_high_)
    model.learn_range(X)  # before the linear model, which reads the clipped matrix
    ks = (
        np.unique(np.concatenate([f for _, _, f in targets]))
        if fold is not None and targets
        else np.empty(0, dtype=np.int64)
    )
    # (rows by position, None: all; the range their linear model clips numbers to)
    growths: list[tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray]]] = [
        (None, (model.feature_low_, model.feature_high_))
    ]
    if fold is not None:
        growths += [(np.flatnonzero(fold != k), fold_bounds) for k in ks]
    with_linear = model.linear_weight_ > 0
    threads = threads_each(model.n_jobs, len(growths) + int(with_linear))

    def per_row(values: np.ndarray | None, rows: np.ndarray | None) -> Any:
        return values if values is None or rows is None else values[rows]

    # Building a growth's dataset (its bins' sample, its batches of rows) holds more memory
    # for a while than the binned dataset it leaves; a linear fit holds its design. The two
    # take turns, so those passing peaks never add up (the 100,000-lead run's peak was both).
    passing_peak = threading.Lock()

    def grow_trees(rows: np.ndarray | None) -> lgb.Booster:
        with passing_peak:
            dataset = lgb_dataset(X, per_row(y, rows), per_row(sample_weight, rows), rows=rows)
        return lgb.train(model.lgb_params(threads), dataset, model.best_iteration_)

    def fit_linear(rows: np.ndarray | None, bounds: tuple[np.ndarray, np.ndarray]) -> LinearLogOdds:
        with passing_peak:
            return fit_linear_part(
                model,
                X,
                per_row(y, rows),
                per_row(sample_weight, rows),
                np.arange(len(X)) if rows is None else rows,
                bounds,
            )

    def fit_linears() -> list[LinearLogOdds]:
        return [fit_linear(rows, bounds) for rows, bounds in growths]

    tasks: list[Callable[[], Any]] = [fit_linears] if with_linear else []
    tasks += [partial(grow_trees, rows) for rows, _ in growths]
    grown = side_by_side(tasks, model.n_jobs)
    linears = grown.pop(0) if with_linear else [None] * len(growths)
    model.booster_, model.linear_ = grown[0], linears[0]
    model.feature_names_in_ = np.asarray(X.columns, dtype=object)
    raws = [np.full(len(folds), np.nan) for _, _, folds in targets]
    for k, booster, linear in zip(ks, grown[1:], linears[1:], strict=True):

        def predict(A: np.ndarray, booster: lgb.Booster = booster, linear: Any = linear) -> Any:
            trees = booster.predict(A, raw_score=True, num_threads=model.n_jobs)
            return model.combine(np.asarray(trees), linear, A)

        for raw, (frame, rows, folds) in zip(raws, targets, strict=True):
            mine = folds == k
            if mine.any():
                positions = np.flatnonzero(mine) if rows is None else rows[mine]
                raw[mine] = model.predict_by_chunk(frame, predict, positions, bounds=fold_bounds)
    return raws

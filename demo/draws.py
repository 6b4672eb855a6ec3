"""Random draws and column builders shared by the demo world's samplers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def draw_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `probabilities` (rows sum to 1)."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=1), probabilities.shape[1] - 1)


def draw(
    rng: np.random.Generator, weights: tuple[float, ...] | np.ndarray, size: int
) -> np.ndarray:
    """`size` categorical draws with probabilities proportional to `weights`."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def strings(labels: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """String column from integer codes into `labels` (negative code: missing)."""
    table = np.array([*labels, None], dtype=object)
    return pd.Series(table[np.where(codes < 0, len(labels), codes)], dtype="str")


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)), axis)

"""Evaluation plots as matplotlib Figures; the caller saves or logs them.

Figures are built directly on an Agg canvas (no pyplot, no global backend state), so plotting
works headless and in threads, and nothing happens at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.metrics import calibration_curve, decile_table, gains_curve, validate_predictions

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Curves = Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]]
"""Model name -> (y_true, p) on the same holdout."""

REFERENCE_COLOR = "0.55"


def new_figure(width: float, height: float) -> Figure:
    """An empty figure on its own Agg canvas (every plot of training and ops starts here)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax: Axes) -> None:
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _check_curves(curves: Curves) -> None:
    if not curves:
        raise ValueError("need at least one model to plot")


def plot_calibration(curves: Curves, n_bins: int = 10) -> Figure:
    """Reliability diagram for several models, with the distribution of their probabilities."""
    _check_curves(curves)
    fig = new_figure(7.0, 7.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    upper = 0.0
    probabilities = []
    for name, (y_true, p) in curves.items():
        mean_p, rate, _ = calibration_curve(y_true, p, n_bins)
        top.plot(mean_p, rate, marker="o", markersize=4, linewidth=1.5, label=name)
        probabilities.append((name, np.asarray(p, dtype=np.float64).ravel()))
        upper = max(upper, float(mean_p.max()), float(rate.max()))
    # Lead conversion is rare: zoom to the populated range instead of the full unit square.
    upper = min(1.0, upper * 1.08) if upper > 0 else 1.0
    top.plot(
        [0, upper],
        [0, upper],
        label="perfectly calibrated",
        color=REFERENCE_COLOR,
        linestyle="--",
        linewidth=1.0,
    )
    top.set(xlim=(0, upper), ylim=(0, upper), ylabel="observed conversion rate")
    top.set_title("Calibration (quantile bins)")
    top.legend(loc="upper left", frameon=False)
    bins = np.linspace(0.0, upper, 41)
    for name, prob in probabilities:
        # Probabilities beyond the zoomed axis are left out rather than piled into the last bin.
        bottom.hist(prob, bins=bins.tolist(), histtype="step", linewidth=1.2, label=name)
    bottom.set(xlabel="predicted probability", ylabel="leads")
    for ax in (top, bottom):
        _style(ax)
    return fig


def plot_cumulative_gains(curves: Curves) -> Figure:
    """Cumulative gains: share of conversions captured when contacting the top-scored leads."""
    _check_curves(curves)
    fig = new_figure(7.0, 5.0)
    ax = fig.subplots()
    for name, (y_true, p) in curves.items():
        share, captured = gains_curve(y_true, p)
        ax.plot(share, captured, linewidth=1.5, label=name)
    ax.plot(
        [0, 1], [0, 1], label="random order", color=REFERENCE_COLOR, linestyle="--", linewidth=1.0
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="share of leads contacted (highest scores first)",
        ylabel="share of conversions captured",
        title="Cumulative gains",
    )
    ax.set_xticks(np.linspace(0, 1, 11))
    ax.legend(loc="lower right", frameon=False)
    _style(ax)
    return fig


def plot_lift_by_decile(curves: Curves) -> Figure:
    """Lift (decile conversion rate / overall rate) per score decile, one bar group per decile."""
    _check_curves(curves)
    fig = new_figure(8.0, 4.5)
    ax = fig.subplots()
    width = 0.8 / len(curves)
    for i, (name, (y_true, p)) in enumerate(curves.items()):
        table = decile_table(y_true, p)
        offset = (i - (len(curves) - 1) / 2) * width
        ax.bar(table["decile"] + offset, table["lift"], width=width, label=name)
    ax.axhline(1.0, label="no model", color=REFERENCE_COLOR, linestyle="--", linewidth=1.0)
    ax.set_xticks(range(1, 11))
    ax.set(
        xlabel="score decile (1 = highest scores)",
        ylabel="lift",
        title="Lift by decile",
    )
    ax.legend(frameon=False)
    _style(ax)
    return fig


def plot_score_distribution(
    y_true: npt.ArrayLike,
    p: npt.ArrayLike,
    title: str = "Score distribution by outcome",
) -> Figure:
    """Density of predicted probabilities for converted vs not converted leads."""
    y, prob = validate_predictions(y_true, p)
    fig = new_figure(7.0, 4.5)
    ax = fig.subplots()
    upper = float(np.quantile(prob, 0.995)) if prob.size else 1.0
    bins = np.linspace(0.0, max(upper, 1e-6), 41)
    for outcome, label in ((0.0, "not converted"), (1.0, "converted")):
        values = prob[y == outcome]
        if values.size:
            ax.hist(
                values,
                bins=bins.tolist(),
                density=True,
                histtype="stepfilled",
                alpha=0.45,
                label=f"{label} (n={values.size:,})",
            )
    # The axis stops at the 99.5th percentile so a long tail does not squash the bulk.
    ax.set(
        xlabel="predicted probability (axis ends at the 99.5th percentile)",
        ylabel="density",
        title=title,
    )
    ax.legend(frameon=False)
    _style(ax)
    return fig


def plot_feature_importance(importance: pd.Series, top: int = 25) -> Figure:
    """Horizontal bars of the ``top`` most important features (e.g. mean |SHAP| per feature)."""
    if importance.empty:
        raise ValueError("no feature importances to plot")
    shown = importance.astype(float).sort_values(ascending=False).head(top).iloc[::-1]
    fig = new_figure(7.0, max(2.5, 0.28 * len(shown) + 1.2))
    ax = fig.subplots()
    ax.barh([str(name) for name in shown.index], shown.to_numpy(), color="#4C72B0")
    label = str(importance.name) if importance.name is not None else "importance"
    ax.set(xlabel=label, title=f"Global feature importance (top {len(shown)})")
    ax.tick_params(axis="y", labelsize=8)
    _style(ax)
    ax.grid(False, axis="y")
    return fig

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from training.metrics import capture_at, decile_table
from training.plots import (
    plot_calibration,
    plot_cumulative_gains,
    plot_feature_importance,
    plot_lift_by_decile,
    plot_score_distribution,
)
from training.report import (
    MISSING_CELL,
    ReportSection,
    figure_filenames,
    figure_to_png,
    format_cell,
    render_report,
    save_figures,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def curves() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    p = rng.beta(1.2, 12.0, 2000)
    y = (rng.random(p.size) < p).astype(int)
    return {
        "lightgbm": (y, p),
        "logistic": (y, np.clip(p * 1.3, 0, 1)),
        "points": (y, np.round(p, 1)),
    }


# --------------------------------------------------------------------------- plots


def test_calibration_plot_has_a_curve_per_model_and_a_histogram(curves: dict) -> None:
    fig = plot_calibration(curves)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    diagram, histogram = fig.axes
    assert len(diagram.lines) == len(curves) + 1  # models + the diagonal
    legend = diagram.get_legend()
    assert legend is not None
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels[: len(curves)] == list(curves)
    assert len(histogram.patches) == len(curves)  # one step outline per model


def test_cumulative_gains_plot_lines_follow_capture(curves: dict) -> None:
    fig = plot_cumulative_gains(curves)
    (ax,) = fig.axes
    assert len(ax.lines) == len(curves) + 1  # models + random order
    y, p = curves["lightgbm"]
    x_data, y_data = (np.asarray(values, dtype=float) for values in ax.lines[0].get_data())
    assert np.interp(0.2, x_data, y_data) == pytest.approx(capture_at(y, p, 0.2))
    assert y_data[-1] == pytest.approx(1.0)


def test_lift_by_decile_plot_has_ten_bars_per_model(curves: dict) -> None:
    fig = plot_lift_by_decile(curves)
    (ax,) = fig.axes
    assert len(ax.containers) == len(curves)
    assert all(len(bars) == 10 for bars in ax.containers)
    y, p = curves["lightgbm"]
    heights = [bar.get_height() for bar in ax.containers[0]]
    assert heights == pytest.approx(decile_table(y, p)["lift"].tolist())


def test_score_distribution_plot_has_both_outcomes(curves: dict) -> None:
    y, p = curves["lightgbm"]
    fig = plot_score_distribution(y, p, title="LightGBM")
    (ax,) = fig.axes
    assert ax.get_title() == "LightGBM"
    legend = ax.get_legend()
    assert legend is not None
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == [f"not converted (n={(y == 0).sum():,})", f"converted (n={y.sum():,})"]


def test_feature_importance_plot_shows_top_features_largest_first() -> None:
    importance = pd.Series(
        [0.5, 0.1, 0.9, 0.3, 0.05, 0.7], index=["a", "b", "c", "d", "e", "f"], name="mean |SHAP|"
    )
    fig = plot_feature_importance(importance, top=4)
    (ax,) = fig.axes
    assert len(ax.patches) == 4
    # barh draws bottom-up, so the largest feature is the last label (top of the chart).
    assert [t.get_text() for t in ax.get_yticklabels()] == ["d", "a", "f", "c"]
    assert ax.get_xlabel() == "mean |SHAP|"


def test_plots_need_no_pyplot_and_nothing_happens_at_import() -> None:
    code = (
        "import sys\n"
        "import training.evaluate, training.plots, training.report\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported at import time'\n"
        "import numpy as np\n"
        "from training.plots import plot_cumulative_gains\n"
        "from training.report import figure_to_png\n"
        "fig = plot_cumulative_gains({'m': (np.array([0, 1, 1, 0]), np.array([.1, .9, .6, .3]))})\n"
        "assert figure_to_png(fig).startswith(b'\\x89PNG')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- report


def make_sections(curves: dict) -> list[ReportSection]:
    y, p = curves["lightgbm"]
    comparison = pd.DataFrame(
        {"roc_auc": ["0.812 [0.801, 0.823]", "0.790 [0.778, 0.801]"], "log_loss": [0.21, 0.23]},
        index=pd.Index(["lightgbm", "points <v1>"], name="model"),
    )
    return [
        ReportSection(
            heading="Models side by side",
            text="Holdout: **latest** fully observed period.\n\n- `roc_auc` higher is better\n- "
            "log loss lower is better",
            tables=[("Holdout metrics", comparison), ("Deciles", decile_table(y, p))],
        ),
        ReportSection(
            heading="Calibration",
            figures=[
                ("Calibration curve", plot_calibration(curves)),
                ("Calibration curve", plot_score_distribution(y, p)),
            ],
        ),
    ]


def test_figure_to_png_returns_png_bytes(curves: dict) -> None:
    png = figure_to_png(plot_lift_by_decile(curves))
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000


def test_render_report_html_is_self_contained(curves: dict) -> None:
    sections = make_sections(curves)
    _, page = render_report("Training report <run 1>", sections)
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Training report &lt;run 1&gt;</title>" in page
    assert page.count("data:image/png;base64,") == 2
    assert page.count("<table>") == 2
    assert "<caption>Holdout metrics</caption>" in page
    assert "<th>model</th>" in page  # a named index becomes a column
    assert "<td>points &lt;v1&gt;</td>" in page  # cells are escaped
    assert "0.812 [0.801, 0.823]" in page
    assert '<td class="num">0.21</td>' in page
    assert "<strong>latest</strong>" in page and "<li><code>roc_auc</code>" in page
    for section in sections:
        assert f"{section.heading}</h2>" in page
    assert 'src="http' not in page and "<link" not in page


def test_render_report_markdown_has_headings_tables_and_figure_files(
    curves: dict, tmp_path: Path
) -> None:
    sections = make_sections(curves)
    markdown, _ = render_report("Training report", sections)
    lines = markdown.splitlines()
    assert lines[0] == "# Training report"
    assert "## Models side by side" in lines and "## Calibration" in lines
    assert "| model | roc_auc | log_loss |" in lines
    assert "|---|---|---:|" in lines
    assert "| points <v1> | 0.790 [0.778, 0.801] | 0.23 |" in lines
    paths = save_figures(sections, tmp_path)
    assert [path.name for path in paths] == figure_filenames(sections)[1]
    assert len({path.name for path in paths}) == 2  # same caption, distinct files
    for path in paths:
        assert f"]({path.name})" in markdown
        assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_write_report_writes_markdown_html_and_figures(curves: dict, tmp_path: Path) -> None:
    paths = write_report("Report", make_sections(curves), tmp_path / "out")
    names = [path.name for path in paths]
    assert names[:2] == ["report.md", "report.html"] and len(names) == 4
    assert all(path.exists() for path in paths)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12345, "12,345"),
        (0.812345, "0.8123"),
        (float("nan"), MISSING_CELL),
        (None, MISSING_CELL),
        (True, "yes"),
        (np.int64(7), "7"),
        (25000.4, "25,000"),
        ("SQL", "SQL"),
    ],
)
def test_format_cell(value: object, text: str) -> None:
    assert format_cell(value) == text

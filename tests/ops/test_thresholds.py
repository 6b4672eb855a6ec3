"""Thresholds against capacity: the curve's figures, the choice for targets, the CLI, the page."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.tiers import TierPolicy
from ops.evaluation_set import (
    EvaluationSet,
    evaluation_set,
    holdout_evaluation_set,
    threshold_curve,
    tier_figures,
    to_served_scale,
)
from ops.targets import ThresholdTargets, candidate_table, choose_policy, choose_thresholds
from ops.threshold_report import threshold_report
from ops.thresholds import refit_caveats
from tests.browser import CHROMIUM_ARGS
from tests.conftest import make_export
from training.inflow import lead_inflow, recent_inflow
from training.labels import SnapshotScheme
from training.report import render_report

CHROMIUM = Path("/usr/bin/chromium")
CURRENT = TierPolicy(sql_threshold=0.5, mql_threshold=0.2, version="1")


def synthetic_set(n: int = 4_000, seed: int = 0, leads_per_week: float = 100.0) -> EvaluationSet:
    """Calibrated probabilities with outcomes drawn from them, one snapshot per lead."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 8.0, n)
    y = (rng.random(n) < p).astype(float)
    return EvaluationSet(
        p,
        y,
        np.ones(n),
        leads_per_week,
        pd.Timestamp("2026-01-01"),
        pd.Timestamp("2026-04-01"),
        "synthetic",
    )


def test_curve_figures_match_a_direct_count_with_lead_weights() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(300).round(2)  # ties on purpose
    y = (rng.random(300) < p).astype(float)
    w = rng.choice([1.0, 0.5, 0.25], 300)
    data = EvaluationSet(p, y, w, 40.0, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), "x")
    curve = threshold_curve(data)
    assert curve["threshold"].is_monotonic_decreasing and curve["threshold"].is_unique
    for t in (0.9, 0.5, 0.13, p.min()):
        row = curve[curve["threshold"] == t].iloc[0]
        above = p >= t
        share = w[above].sum() / w.sum()
        precision = (w * y)[above].sum() / w[above].sum()
        assert row["share"] == pytest.approx(share)
        assert row["leads_per_week"] == pytest.approx(40.0 * share)
        assert row["precision"] == pytest.approx(precision)
        assert row["recall"] == pytest.approx((w * y)[above].sum() / (w * y).sum())
        assert row["lift"] == pytest.approx(precision / data.base_rate)
        assert row["won_per_week"] == pytest.approx(40.0 * (w * y)[above].sum() / w.sum())
    assert curve["share"].iloc[-1] == pytest.approx(1.0)


def test_each_lead_counts_once_and_inflow_counts_leads_per_week() -> None:
    created = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(70), unit="D")
    # Lead i has 1 + i % 3 snapshots: weights must add up to one per lead.
    rows = [
        {"lead_id": f"L{i}", "created_at": c, "label": 0, "probability": 0.1}
        for i, c in enumerate(created)
        for _ in range(1 + i % 3)
    ]
    frame = pd.DataFrame(rows)
    data = evaluation_set(
        frame, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-03-26"), every_days=14, source="x"
    )
    assert data.n_leads == pytest.approx(70)
    # Leads created in [start, end - 14 days) = 70 days, one a day: 7 a week.
    assert data.leads_per_week == pytest.approx(7.0)
    assert lead_inflow(
        frame["lead_id"], frame["created_at"], created[0], created[0] + pd.Timedelta(days=5), 14
    ) == pytest.approx(5 / (5 / 7))


def test_recent_inflow_counts_leads_entering_just_before_the_cutoff() -> None:
    # One lead a day for 100 days, then two a day for the last 50: the recent rate is 14/week.
    days = [*range(100), *[d for d in range(100, 150) for _ in range(2)]]
    leads = [
        {"lead_id": f"L{i}", "created_at": pd.Timestamp("2026-01-01") + pd.Timedelta(days=d)}
        for i, d in enumerate(days)
    ]
    export = make_export(leads)
    cutoff = pd.Timestamp("2026-01-01") + pd.Timedelta(days=150)
    assert recent_inflow(export, cutoff, SnapshotScheme(every_days=14)) == pytest.approx(14.0)
    holdout = pd.DataFrame(
        {
            "lead_id": ["a", "b"],
            "as_of": pd.to_datetime(["2026-02-01", "2026-02-10"]),
            "age_days": [3.0, 5.0],
            "label": [0, 1],
            "lightgbm": [0.1, 0.4],
        }
    )
    params = {
        "boundary_holdout_start": "2026-01-20",
        "boundary_last_as_of": "2026-03-03",
        "snapshot_every_days": "14",
    }
    plain = holdout_evaluation_set(holdout, params)
    assert plain.leads_per_week == pytest.approx(2 / 4)  # 2 leads in 4 complete weeks
    recent = holdout_evaluation_set(holdout, {**params, "recent_leads_per_week": "9.5"})
    assert recent.leads_per_week == 9.5 and "before the model's cut-off" in recent.inflow_source


def test_capacity_target_gives_the_most_sqls_within_capacity() -> None:
    data = synthetic_set()
    curve, choice, policy = choose_policy(data, ThresholdTargets(sql_capacity=7.0), CURRENT)
    sql = tier_figures(data, policy).set_index("tier").loc["SQL"]
    assert sql["leads_per_week"] <= 7.0 + 1e-9
    lower = curve[curve["threshold"] < policy.sql_threshold]
    assert lower["leads_per_week"].iloc[0] > 7.0  # one step lower would exceed capacity
    assert sql["leads_per_week"] == pytest.approx(7.0, abs=0.05)
    assert choice.feasible and choice.outcomes[0].name == "sql_capacity"
    # No MQL target: the current MQL threshold is kept (it is below the new SQL one).
    assert policy.mql_threshold == CURRENT.mql_threshold


def test_precision_share_and_recall_targets_combine() -> None:
    data = synthetic_set()
    targets = ThresholdTargets(sql_precision=0.35, sql_share=0.10, mql_recall=0.7, mql_share=0.3)
    curve, choice, policy = choose_policy(data, targets, CURRENT)
    assert choice.feasible
    tiers = tier_figures(data, policy).set_index("tier")
    assert tiers.loc["SQL", "conversion_rate"] >= 0.35
    assert tiers.loc["SQL", "share"] <= 0.10
    assert (
        tiers.loc["SQL", "share_of_conversions"] + tiers.loc["MQL", "share_of_conversions"] >= 0.7
    )
    assert tiers.loc["MQL", "share"] <= 0.3
    # Recall alone: the highest MQL threshold reaching it (fewest MQLs).
    _, _, recall_policy = choose_policy(data, ThresholdTargets(mql_recall=0.8), CURRENT)
    recall_at = curve.set_index("threshold")["recall"]
    assert recall_at[recall_policy.mql_threshold] >= 0.8
    assert recall_at[recall_at.index > recall_policy.mql_threshold].max() < 0.8


def test_unreachable_targets_are_named_with_the_closest_choice() -> None:
    data = synthetic_set()
    curve = threshold_curve(data)
    choice = choose_thresholds(
        curve, ThresholdTargets(sql_capacity=5.0, sql_precision=0.99), CURRENT
    )
    assert not choice.feasible
    [precision] = [o for o in choice.outcomes if o.name == "sql_precision"]
    assert not precision.met and not precision.met_alone
    assert "cannot be met" in precision.describe()
    assert precision.best_alone == pytest.approx(curve.loc[curve["leads"] >= 20, "precision"].max())
    assert any("closest" in note for note in choice.notes)
    # Each target reachable alone but not together: said so.
    conflict = choose_thresholds(curve, ThresholdTargets(mql_recall=0.95, mql_share=0.05), CURRENT)
    assert not conflict.feasible
    assert all(o.met_alone for o in conflict.unmet)
    assert "not together" in conflict.unmet[0].describe()


def test_no_targets_keep_the_current_policy_and_table_marks_the_cutoffs() -> None:
    data = synthetic_set()
    curve, choice, policy = choose_policy(data, ThresholdTargets(), CURRENT)
    assert (policy.sql_threshold, policy.mql_threshold) == (0.5, 0.2)
    assert choice.outcomes == []
    table = candidate_table(curve, choice)
    assert set(table["chosen"]) == {"", "SQL", "MQL"}
    assert table["share"].is_monotonic_increasing
    with pytest.raises(ValueError):
        ThresholdTargets(sql_share=1.5)


def _share_at_or_above(p: np.ndarray, weight: np.ndarray, threshold: float) -> float:
    return float(weight[p >= threshold].sum() / weight.sum())


def test_served_scale_keeps_the_order_and_carries_shares_to_the_served_model() -> None:
    rng = np.random.default_rng(3)
    n = 3_000
    evaluated = np.round(rng.beta(0.6, 8.0, n), 3)  # rounded: ties must map together
    # A refit: correlated with the evaluated scores, more confident, in another range.
    served = np.clip(evaluated * 1.4 + rng.normal(0, 0.02, n), 0, 1)
    weight = 1.0 / rng.integers(1, 6, n)
    mapped = to_served_scale(evaluated, served, weight)
    order = np.argsort(evaluated, kind="stable")
    assert (np.diff(mapped[order]) >= 0).all()  # monotone: precision and recall unchanged
    tied = evaluated == evaluated[0]
    assert np.unique(mapped[tied]).size == 1
    assert set(np.unique(mapped)) <= set(np.unique(served))
    for share in (0.02, 0.05, 0.1, 0.3):
        threshold = float(np.quantile(mapped, 1 - share))
        planned = _share_at_or_above(mapped, weight, threshold)
        delivered = _share_at_or_above(served, weight, threshold)
        assert delivered == pytest.approx(planned, abs=0.005)
        # Without the map, the evaluated threshold would select far more of the served model.
        raw = float(np.quantile(evaluated, 1 - share))
        assert _share_at_or_above(served, weight, raw) > 1.2 * _share_at_or_above(
            evaluated, weight, raw
        )
    assert np.array_equal(to_served_scale(evaluated, evaluated, weight), evaluated)


def test_holdout_of_a_refitted_model_is_planned_on_the_served_scale() -> None:
    rng = np.random.default_rng(4)
    n = 2_000
    evaluated = rng.beta(0.6, 8.0, n)
    predictions = pd.DataFrame(
        {
            "lead_id": [f"L{i // 2}" for i in range(n)],
            "as_of": pd.Timestamp("2026-03-01"),
            "age_days": 14.0 * (np.arange(n) % 2),
            "label": (rng.random(n) < evaluated).astype(int),
            "lightgbm": evaluated,
            "served_model": np.minimum(evaluated * 1.5, 1.0),
        }
    )
    data = holdout_evaluation_set(predictions, {"refit": "True"})
    assert data.on_served_scale
    assert np.allclose(np.sort(data.probability), np.sort(predictions["served_model"]))
    assert np.array_equal(np.argsort(data.probability), np.argsort(evaluated))
    [caveat] = refit_caveats({"refit": "True"}, data, on_holdout=True)
    assert "served model's scale" in data.source and "out of sample" in caveat
    same = predictions.assign(served_model=predictions["lightgbm"])
    assert not holdout_evaluation_set(same, {"refit": "False"}).on_served_scale


def test_refitted_models_come_with_a_caveat() -> None:
    data = synthetic_set()  # leads created from 2026-01-01
    assert refit_caveats({"refit": "False"}, data, on_holdout=True) == []
    [holdout] = refit_caveats({"refit": "True"}, data, on_holdout=True)
    assert "evaluated model" in holdout and "--data" in holdout
    trained_until = {"refit": "True", "boundary_last_as_of": "2026-02-01"}
    assert "in-sample" in refit_caveats(trained_until, data, on_holdout=False)[0]
    earlier = {"refit": "True", "boundary_last_as_of": "2025-12-01"}
    assert refit_caveats(earlier, data, on_holdout=False) == []


def _render(folder: Path, html: str) -> tuple[str, Path]:
    page = folder / "page.html"
    page.write_text(html)
    flags = [
        str(CHROMIUM),
        "--headless",
        *CHROMIUM_ARGS,
        f"--user-data-dir={folder / 'profile'}",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90
    )
    shot = folder / "page.png"
    subprocess.run(
        [*flags, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
    )
    return dom.stdout, shot


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs /usr/bin/chromium (apt-get install -y chromium) to render the report page",
)
def test_report_page_renders_in_a_headless_browser(tmp_path: Path) -> None:
    data = synthetic_set()
    curve, choice, policy = choose_policy(data, ThresholdTargets(sql_capacity=6.0), CURRENT)
    _, html = render_report("thresholds", threshold_report(data, curve, choice, policy, "m v1"))
    assert "http://" not in html and "https://" not in html  # self-contained
    dom, shot = _render(tmp_path, html)
    # The browser parsed the page: headings, the tier table and three decoded plots.
    assert "Chosen thresholds" in dom and "Candidate thresholds" in dom
    assert dom.count("data:image/png;base64,") == 3
    assert shot.exists() and shot.stat().st_size > 20_000
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.std() > 0.05  # not a blank page

"""The demo world: reproducible, cut at as_of like a CRM, with an exactly Bayes-optimal p_true."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from demo.world import (
    DAY,
    DEFAULT_PARAMS,
    DemoConfig,
    DemoWorld,
    LeadCovariates,
    WorldParams,
    bayes_won_probability,
    filter_won_probability,
    generate_demo_world,
    job_title_catalogue,
    lead_covariates,
    simulate_journeys,
    write_demo_world,
)

SMALL = DemoConfig(n_leads=3_000, seed=11)


@pytest.fixture(scope="module")
def small_world() -> DemoWorld:
    return generate_demo_world(SMALL)


@pytest.fixture(scope="module")
def large_world() -> DemoWorld:
    # Every lead without an opportunity is in the truth population: more statistical power.
    return generate_demo_world(DemoConfig(n_leads=30_000, seed=2024, eval_window_days=540))


def _assert_worlds_equal(a: DemoWorld, b: DemoWorld) -> None:
    for table in ("leads", "activities", "opportunities"):
        pd.testing.assert_frame_equal(getattr(a.export, table), getattr(b.export, table))
    pd.testing.assert_frame_equal(a.truth, b.truth)


def test_same_seed_gives_identical_tables(small_world: DemoWorld) -> None:
    _assert_worlds_equal(small_world, generate_demo_world(SMALL))


def test_different_seed_gives_different_tables(small_world: DemoWorld) -> None:
    other = generate_demo_world(replace(SMALL, seed=12))
    with pytest.raises(AssertionError):
        _assert_worlds_equal(small_world, other)
    assert not small_world.export.leads["created_at"].equals(other.export.leads["created_at"])


def test_a_later_cut_off_is_a_new_draw_not_the_same_leads_moved(small_world: DemoWorld) -> None:
    # A model trained on the earlier export must not meet a twin of its training leads (same
    # fields and journey, created 60 days later) among the later export's new leads.
    later_by = pd.Timedelta(days=60)
    later = generate_demo_world(SMALL.with_as_of(SMALL.as_of + later_by))
    assert later.export.leads["created_at"].max() > SMALL.as_of
    moved_back = set(later.export.leads["created_at"] - later_by)
    twins = small_world.export.leads["created_at"].isin(moved_back)
    assert twins.sum() <= 3  # chance coincidences of a second in 540 days, not a copy
    same_as_of = generate_demo_world(SMALL.with_as_of(SMALL.as_of + later_by))
    _assert_worlds_equal(later, same_as_of)  # still reproducible


def test_with_as_of_converts_to_naive_utc() -> None:
    aware = pd.Timestamp("2026-03-01 02:00", tz="Europe/Berlin")
    config = SMALL.with_as_of(aware)
    assert config.as_of == pd.Timestamp("2026-03-01 01:00")
    assert config.as_of.tz is None
    assert config.n_leads == SMALL.n_leads


def test_export_is_cut_at_as_of(small_world: DemoWorld) -> None:
    as_of = SMALL.as_of
    leads, activities, opps = (
        small_world.export.leads,
        small_world.export.activities,
        small_world.export.opportunities,
    )
    assert (leads["created_at"] < as_of).all()
    assert (leads["created_at"] >= as_of - pd.Timedelta(days=SMALL.history_days)).all()
    assert leads["lead_id"].is_unique
    assert leads["created_at"].is_monotonic_increasing
    assert len(activities) > 0 and (activities["occurred_at"] < as_of).all()
    assert activities["occurred_at"].is_monotonic_increasing
    created = activities["lead_id"].map(leads.set_index("lead_id")["created_at"])
    assert (activities["occurred_at"] >= created).all()

    assert set(opps["status"]) == {"open", "won", "lost"}
    assert (opps["created_at"] < as_of).all()
    is_open = opps["status"] == "open"
    assert opps.loc[is_open, "closed_at"].isna().all()
    closed = opps.loc[~is_open]
    assert closed["closed_at"].notna().all()
    assert (closed["closed_at"] < as_of).all()
    assert (closed["closed_at"] > closed["created_at"]).all()
    assert (opps["amount"] > 0).all()
    # The journey ends when an opportunity opens.
    opened = activities["lead_id"].map(opps.set_index("lead_id")["created_at"])
    assert not (activities["occurred_at"] >= opened).any()

    truth = small_world.truth
    assert list(truth.columns) == ["lead_id", "p_true", "won"]
    assert not truth["lead_id"].isin(opps["lead_id"]).any()
    truth_created = truth["lead_id"].map(leads.set_index("lead_id")["created_at"])
    assert (truth_created >= as_of - pd.Timedelta(days=SMALL.eval_window_days)).all()
    # Every lead of the window without an opportunity is in the truth population.
    window = leads[leads["created_at"] >= as_of - pd.Timedelta(days=SMALL.eval_window_days)]
    assert set(truth["lead_id"]) == set(window["lead_id"]) - set(opps["lead_id"])
    assert set(truth["won"]) <= {0, 1}
    assert truth["p_true"].between(0, 1).all()


def test_world_looks_like_a_crm(small_world: DemoWorld) -> None:
    export = small_world.export
    assert {"annual_revenue_band", "lead_form_score"} <= set(export.extra_lead_columns)
    for column in ("source", "company_size", "job_title", "industry", "email_domain"):
        share = export.leads[column].isna().mean()
        assert 0.01 < share < 0.5, column
    assert export.activities["activity_type"].nunique() >= 14
    per_lead = len(export.activities) / len(export.leads)
    assert 10 < per_lead < 50
    # Hand-raisers convert far better than the population.
    truth = small_world.truth.set_index("lead_id")
    acts = export.activities
    raised = acts.loc[acts["activity_type"].isin(["demo_request", "contact_sales"]), "lead_id"]
    assert truth.loc[truth.index.isin(raised), "p_true"].mean() > 2 * truth["p_true"].mean()


def test_job_titles_map_to_one_seniority_each() -> None:
    catalogue = job_title_catalogue()
    assert catalogue["VP of Marketing"] == ("vp", "marketing")
    assert catalogue["student"] == ("student", "general")


def test_mean_p_true_matches_realised_conversion(large_world: DemoWorld) -> None:
    truth = large_world.truth
    p, won = truth["p_true"].to_numpy(), truth["won"].to_numpy()
    assert 0.01 < p.mean() < 0.08
    standard_error = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(won.mean() - p.mean()) < 3 * standard_error


def test_p_true_is_calibrated_by_bins(large_world: DemoWorld) -> None:
    truth = large_world.truth
    p, won = truth["p_true"].to_numpy(), truth["won"].to_numpy()
    edges = np.quantile(p, [0.0, 0.5, 0.75, 0.9, 0.95, 0.98, 1.0])
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    chi_square = 0.0
    for b in range(len(edges) - 1):
        mine = bins == b
        expected, variance = p[mine].sum(), (p[mine] * (1 - p[mine])).sum()
        z = (won[mine].sum() - expected) / np.sqrt(variance)
        assert abs(z) < 4, (b, expected, won[mine].sum())
        chi_square += z**2
    # 6 degrees of freedom: P(chi2 > 22.5) = 0.001.
    assert chi_square < 22.5
    # p_true separates: the top bin converts many times better than the bottom half.
    assert won[bins == len(edges) - 2].mean() > 5 * won[bins == 0].mean()


def _template_lead() -> pd.DataFrame:
    """A good-fit inbound lead: likely hot from day 0."""
    return pd.DataFrame(
        {
            "lead_id": ["L1"],
            "created_at": [pd.Timestamp("2026-01-01")],
            "source": ["referral"],
            "campaign": ["Customer Referral Program"],
            "country": ["US"],
            "industry": ["software"],
            "company_size": [800.0],
            "job_title": ["VP of Marketing"],
            "email_domain": ["novalabs.com"],
            "annual_revenue_band": ["50M-250M"],
            "lead_form_score": [95.0],
        }
    )


def _replicate(covariates: LeadCovariates, n: int) -> LeadCovariates:
    return LeadCovariates(
        log_initial=np.repeat(covariates.log_initial, n, axis=0),
        transitions=np.repeat(covariates.transitions, n, axis=0),
        win_probability=np.repeat(covariates.win_probability, n),
    )


# Few, sparse activity types: seeing exactly one demo request and nothing else is common enough.
SPARSE_RATES = (
    ("page_view", (0.3, 0.05, 0.3, 0.6)),
    ("careers_page_view", (0.5, 0.01, 0.01, 0.01)),
    ("demo_request", (0.001, 0.002, 0.02, 0.5)),
)


@pytest.mark.parametrize(
    ("params", "with_demo_request"),
    [
        (replace(DEFAULT_PARAMS, opportunity_hazard=0.5), False),
        (replace(DEFAULT_PARAMS, opportunity_hazard=0.5, emission_rates=SPARSE_RATES), True),
    ],
    ids=["default-rates-no-activity", "sparse-rates-one-demo-request"],
)
def test_filter_matches_brute_force_monte_carlo(
    params: WorldParams, with_demo_request: bool
) -> None:
    """Simulate many copies of one lead; those whose export looks the same estimate P(won | export).

    A strong hazard makes "no opportunity yet" and the partial last day matter: ignoring either,
    or conditioning the rest of the partial day wrongly, moves the filter's p by several
    standard errors of the estimate.
    """
    as_of = SMALL.as_of_seconds
    horizon = 30
    created = as_of - 2 * DAY - int(0.6 * DAY)  # two full days and 60 % of a third
    demo_request = params.activity_types.index("demo_request")
    n = 400_000
    covariates = _replicate(lead_covariates(_template_lead(), params), n)
    journeys = simulate_journeys(
        np.full(n, created, dtype=np.int64),
        covariates,
        as_of,
        horizon,
        params,
        np.random.default_rng(5),
    )
    no_opportunity = (journeys.open_time < 0) | (journeys.open_time >= as_of)
    events = np.bincount(journeys.event_lead, minlength=n)
    if with_demo_request:
        # Exactly one activity: a demo request in the seen part of the partial day (day 2).
        match = np.zeros(n, dtype=bool)
        only = np.flatnonzero(events == 1)
        event_of_lead = np.zeros(n, dtype=np.int64)
        event_of_lead[journeys.event_lead] = np.arange(journeys.event_lead.size)
        position = event_of_lead[only]
        on_day_two = (journeys.event_time[position] - created) // DAY == 2
        is_request = journeys.event_type[position] == demo_request
        match[only[on_day_two & is_request]] = True
        seen_times = np.array([created + 2 * DAY + 3_600])
        seen_types = np.array([demo_request])
    else:
        match = events == 0
        seen_times = seen_types = np.zeros(0, dtype=np.int64)
    accepted = match & no_opportunity
    close = journeys.open_time + journeys.cycle_days * DAY
    won = journeys.won & (journeys.open_time >= as_of) & (close <= as_of + horizon * DAY)
    assert accepted.sum() > 2_000
    p_monte_carlo = won[accepted].mean()

    p_filter = filter_won_probability(
        created=np.array([created]),
        covariates=_replicate(lead_covariates(_template_lead(), params), 1),
        event_lead=np.zeros(seen_times.size, dtype=np.int64),
        event_time=seen_times,
        event_type=seen_types,
        as_of=as_of,
        horizon_days=horizon,
        params=params,
    )[0]
    standard_error = np.sqrt(p_filter * (1 - p_filter) / accepted.sum())
    assert abs(p_monte_carlo - p_filter) < 4 * standard_error, (p_monte_carlo, p_filter)


def test_p_true_is_computed_from_the_written_export(small_world: DemoWorld, tmp_path: Path) -> None:
    from training.export import read_export

    paths = write_demo_world(small_world, tmp_path)
    assert {p.name for p in paths} == {
        "leads.csv",
        "activities.csv",
        "opportunities.csv",
        "truth.csv",
    }
    read = read_export(tmp_path)
    assert not read.report.errors
    assert len(read.export.activities) == len(small_world.export.activities)
    assert read.export.extra_lead_columns == small_world.export.extra_lead_columns
    truth = pd.read_csv(tmp_path / "truth.csv", dtype={"lead_id": "str"})
    pd.testing.assert_frame_equal(truth, small_world.truth, check_exact=False, rtol=1e-12)
    # Everything p_true depends on survives the round trip through the files.
    recomputed = bayes_won_probability(read.export, truth["lead_id"], SMALL)
    np.testing.assert_allclose(recomputed, small_world.truth["p_true"], rtol=1e-9, atol=1e-15)


def test_parquet_export_passes_validation(small_world: DemoWorld, tmp_path: Path) -> None:
    from training.export import read_export

    write_demo_world(small_world, tmp_path, fmt="parquet")
    read = read_export(tmp_path)
    assert len(read.export.leads) == SMALL.n_leads
    assert len(read.export.opportunities) == len(small_world.export.opportunities)

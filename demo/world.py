"""Demo world: a simulated CRM whose leads follow a hidden Markov buyer journey with exact truth.

The generative story, per lead, in lead-relative days (day k is
``[created_at + k days, created_at + (k + 1) days)``; all times are whole seconds):

1. Observed attributes come first (`demo.leads`, `demo.attributes`): creation time, source (its
   mix drifts), campaign, country, company or free-mail domain, a free-text job title, custom
   CRM fields. Which optional fields are missing is decided here too.
2. A latent state (`demo.covariates`): irrelevant (absorbing), cold, warm or hot; the day-0
   state depends on observed attributes only, then a daily Markov chain whose warming rates are
   scaled by the lead's observed fit.
3. Each day, per activity type, a Poisson count whose rate is set by the state
   (`demo.params`), each event at a uniformly random second of the day.
4. Each hot day an opportunity opens with the (possibly seasonal) hazard, and the marketing
   journey ends. It closes after a sales cycle drawn from a fixed distribution, won with a
   probability set by observed fit.

The export is what a CRM holds at ``as_of``. For the evaluation population (leads created in
the ``eval_window_days`` before ``as_of`` with no opportunity yet) ``p_true`` is the exact
Bayes-optimal P(an opportunity opens after ``as_of`` and closes won by ``as_of + horizon``)
given the export (`demo.journeys.filter_won_probability`). Named variants: `demo.variants`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demo.attributes import job_title_catalogue
from demo.covariates import LeadCovariates, lead_covariates
from demo.draws import strings
from demo.journeys import Journeys, filter_won_probability, simulate_journeys
from demo.leads import SampledLeads, sample_leads
from demo.params import DAY, DEFAULT_PARAMS, DemoConfig, WorldParams
from features.contract import Export
from training.export import write_export

__all__ = [
    "DAY",
    "DEFAULT_PARAMS",
    "DemoConfig",
    "DemoWorld",
    "Journeys",
    "LeadCovariates",
    "WorldParams",
    "bayes_won_probability",
    "build_export",
    "filter_won_probability",
    "generate_demo_world",
    "job_title_catalogue",
    "lead_covariates",
    "sample_leads",
    "simulate_journeys",
    "truth_population",
    "write_demo_world",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DemoWorld:
    """A demo CRM export and the exact conversion truth of its open leads."""

    export: Export
    truth: pd.DataFrame  # lead_id, p_true, won (0/1)


# The `detail` of an activity: drawn uniformly, whatever the lead's state, so it tells nothing.
ACTIVITY_DETAILS: Mapping[str, tuple[str, ...]] = {
    "page_view": (
        "/",
        "/product",
        "/features",
        "/integrations",
        "/solutions/marketing",
        "/solutions/sales",
        "/customers",
        "/docs",
    ),
    "pricing_page_view": ("/pricing", "/pricing/enterprise"),
    "careers_page_view": ("/careers", "/careers/engineering", "/careers/sales"),
    "about_page_view": ("/about", "/about/team"),
    "blog_view": (
        "/blog/lead-scoring-101",
        "/blog/mql-vs-sql",
        "/blog/intent-data",
        "/blog/score-decay",
    ),
    "email_open": ("newsletter", "nurture-1", "nurture-2", "product-update", "webinar-invite"),
    "email_click": ("newsletter", "nurture-1", "nurture-2", "product-update", "webinar-invite"),
    "webinar_registration": ("Scoring That Sales Trusts", "Pipeline Forecasting"),
    "form_submission": ("contact form", "ebook download", "newsletter signup"),
    "case_study_download": ("case study: retail", "case study: fintech", "case study: saas"),
}


def _activity_details(
    types: tuple[str, ...], event_type: np.ndarray, rng: np.random.Generator
) -> pd.Series:
    vocabulary = [d for t in types for d in ACTIVITY_DETAILS.get(t, ())]
    size = np.array([len(ACTIVITY_DETAILS.get(t, ())) for t in types])
    offset = np.concatenate([[0], np.cumsum(size)[:-1]])
    pick = (rng.random(event_type.size) * size[event_type]).astype(np.int64)
    codes = np.where(size[event_type] > 0, offset[event_type] + pick, -1)
    return strings(vocabulary, codes)


def _timestamps(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(seconds, unit="s").as_unit("ns"))


def _seconds(stamps: pd.Series) -> np.ndarray:
    return stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64) // 1_000_000_000


def build_export(
    sampled: SampledLeads,
    journeys: Journeys,
    config: DemoConfig,
    rng: np.random.Generator,
) -> Export:
    as_of = config.as_of_seconds
    leads = sampled.frame
    lead_ids = leads["lead_id"].to_numpy(dtype=object)
    types = config.params.activity_types

    order = np.argsort(journeys.event_time, kind="stable")
    event_type = journeys.event_type[order]
    activities = pd.DataFrame(
        {
            "lead_id": pd.Series(lead_ids[journeys.event_lead[order]], dtype="str"),
            "occurred_at": _timestamps(journeys.event_time[order]),
            "activity_type": strings(types, event_type),
            "detail": _activity_details(types, event_type, rng),
        }
    )

    opened = np.flatnonzero((journeys.open_time >= 0) & (journeys.open_time < as_of))
    opened = opened[np.argsort(journeys.open_time[opened], kind="stable")]
    start = journeys.open_time[opened]
    close = start + journeys.cycle_days[opened] * DAY
    closed = close < as_of
    status = np.where(closed, np.where(journeys.won[opened], "won", "lost"), "open")
    # Deal size grows with the true company size (known to sales even when the lead form lacks it).
    amount = 12_000.0 * (sampled.employees[opened] / 100.0) ** 0.4
    amount *= np.exp(0.4 * rng.standard_normal(opened.size))
    amount = np.maximum(500.0, np.round(amount, -2))
    width = max(6, len(str(opened.size)))
    opportunities = pd.DataFrame(
        {
            "opportunity_id": pd.Series(
                [f"OPP{i:0{width}d}" for i in range(1, opened.size + 1)], dtype="str"
            ),
            "lead_id": pd.Series(lead_ids[opened], dtype="str"),
            "created_at": _timestamps(start),
            "closed_at": _timestamps(close).where(closed),
            "status": pd.Series(status, dtype="str"),
            "amount": amount,
        }
    )
    return Export(leads=leads, activities=activities, opportunities=opportunities)


def truth_population(export: Export, config: DemoConfig) -> pd.Series:
    """Lead ids created in the eval window before as_of that have no opportunity before it."""
    leads = export.leads
    window_start = config.as_of - pd.Timedelta(days=config.eval_window_days)
    in_window = (leads["created_at"] >= window_start) & (leads["created_at"] < config.as_of)
    opportunities = export.opportunities
    has_opportunity = leads["lead_id"].isin(
        opportunities.loc[opportunities["created_at"] < config.as_of, "lead_id"]
    )
    return leads.loc[in_window & ~has_opportunity, "lead_id"].reset_index(drop=True)


def bayes_won_probability(export: Export, lead_ids: pd.Series, config: DemoConfig) -> np.ndarray:
    """Exact P(won within the horizon | the export) of leads without an opportunity yet."""
    params = config.params
    leads = export.leads.set_index("lead_id").loc[lead_ids].reset_index()
    covariates = lead_covariates(leads, params)
    activities = export.activities
    activities = activities[activities["occurred_at"] < config.as_of]
    row = pd.Index(leads["lead_id"]).get_indexer(activities["lead_id"])
    mine = row >= 0
    type_index = pd.Index(params.activity_types).get_indexer(activities["activity_type"][mine])
    if np.any(type_index < 0):
        unknown = set(activities["activity_type"][mine][type_index < 0])
        raise ValueError(f"activity types outside the demo world: {sorted(unknown)}")
    return filter_won_probability(
        created=_seconds(leads["created_at"]),
        covariates=covariates,
        event_lead=row[mine],
        event_time=_seconds(activities["occurred_at"][mine]),
        event_type=type_index,
        as_of=config.as_of_seconds,
        horizon_days=config.horizon_days,
        params=params,
    )


def generate_demo_world(config: DemoConfig) -> DemoWorld:
    """Simulate `config.n_leads` buyer journeys; return the export at as_of and its exact truth."""
    rng = config.random_stream()
    sampled = sample_leads(config, rng)
    covariates = lead_covariates(sampled.frame, config.params)
    as_of = config.as_of_seconds
    journeys = simulate_journeys(
        sampled.created, covariates, as_of, config.horizon_days, config.params, rng
    )
    export = build_export(sampled, journeys, config, rng)

    population = truth_population(export, config)
    row = pd.Index(sampled.frame["lead_id"]).get_indexer(population)
    opens = journeys.open_time[row]
    close = opens + journeys.cycle_days[row] * DAY
    won = (opens >= as_of) & journeys.won[row] & (close <= as_of + config.horizon_days * DAY)
    truth = pd.DataFrame(
        {
            "lead_id": population,
            "p_true": bayes_won_probability(export, population, config),
            "won": won.astype(np.int64),
        }
    )
    log.info(
        "demo world: %d leads, %d activities, %d opportunities; truth %d leads, mean p %.4f",
        len(export.leads),
        len(export.activities),
        len(export.opportunities),
        len(truth),
        truth["p_true"].mean(),
    )
    return DemoWorld(export=export, truth=truth)


def write_demo_world(world: DemoWorld, out: Path, fmt: str = "csv") -> list[Path]:
    """Write the export's tables and truth.csv into folder `out`; return the paths written."""
    paths = write_export(world.export, out, fmt=fmt)
    truth_path = out / "truth.csv"
    world.truth.to_csv(truth_path, index=False)
    return [*paths, truth_path]

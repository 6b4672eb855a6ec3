"""Demo world: a simulated CRM whose leads follow a hidden Markov buyer journey with exact truth.

The generative story, per lead, in lead-relative days (day k is
``[created_at + k days, created_at + (k + 1) days)``; all times are whole seconds):

1. Observed attributes come first: creation time (volume growing over the history), source (the
   mix drifts: paid search and content syndication grow, events shrink), campaign, country,
   company (industry, lognormal employees, an invented business domain) or a free-mail domain,
   a free-text job title, two custom CRM fields (``annual_revenue_band``, ``lead_form_score``).
   Which optional fields are missing is decided here too, and "missing" is a level with its own
   effect, as in real CRMs where an empty field says something.
2. A latent state: irrelevant (absorbing: students, job seekers, competitors), cold, warm or hot.
   The day-0 state is a softmax of logits that depend on observed attributes only
   (`INITIAL_LOGIT_EFFECTS`); then a daily Markov chain among cold/warm/hot whose warming rates are
   scaled by the lead's observed firmographic fit.
3. Each day, per activity type, an independent Poisson count whose rate is set by the state
   (`DEFAULT_EMISSION_RATES`; irrelevant leads' rates fade with lead age), each event at a
   uniformly random second of the day. Job seekers read careers and about pages, warm leads open
   and click emails, hot leads visit pricing and raise their hands (demo request, contact sales).
4. Each hot day an opportunity opens with hazard ``h`` at a uniform second, and the marketing
   journey ends. It closes after an integer number of days from a fixed distribution, won with
   probability ``w`` from observed fit (`WIN_LOGIT_EFFECTS`), else lost; the amount grows with
   company size.

The export is what a CRM holds at ``as_of``: leads created, activities occurred and opportunities
created before it, with their status as of it. For the evaluation population (leads created in
the ``eval_window_days`` before ``as_of`` with no opportunity yet) ``p_true`` is the exact
Bayes-optimal P(an opportunity opens after ``as_of`` and closes won by ``as_of + horizon``) given
the export: forward filtering over the observed days (Poisson likelihoods, "no opportunity yet",
the partial last day), then propagating the chain over the horizon (`bayes_won_probability`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import Export, utc_naive
from training.export import write_export

log = logging.getLogger(__name__)

DAY = 86_400  # seconds; every time in the world is a whole number of seconds since the epoch

STATES = ("irrelevant", "cold", "warm", "hot")
IRRELEVANT, COLD, WARM, HOT = range(4)

# Daily Poisson rate per latent state (irrelevant, cold, warm, hot), per activity type.
DEFAULT_EMISSION_RATES: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("page_view", (0.30, 0.025, 0.30, 0.80)),
    ("pricing_page_view", (0.004, 0.002, 0.035, 0.28)),
    ("careers_page_view", (0.40, 0.001, 0.002, 0.002)),
    ("about_page_view", (0.18, 0.003, 0.02, 0.04)),
    ("blog_view", (0.10, 0.015, 0.10, 0.06)),
    ("email_open", (0.02, 0.035, 0.20, 0.15)),
    ("email_click", (0.002, 0.003, 0.045, 0.05)),
    ("webinar_registration", (0.002, 0.0006, 0.010, 0.008)),
    ("form_submission", (0.004, 0.0006, 0.010, 0.05)),
    ("demo_request", (0.0003, 0.00005, 0.0006, 0.07)),
    ("contact_sales", (0.0002, 0.00005, 0.0004, 0.045)),
    ("case_study_download", (0.002, 0.0008, 0.015, 0.035)),
    ("chat_started", (0.002, 0.0002, 0.002, 0.015)),
    ("free_trial_signup", (0.001, 0.0001, 0.001, 0.010)),
    ("unsubscribe", (0.001, 0.0012, 0.0004, 0.0002)),
)


@dataclass(frozen=True)
class WorldParams:
    """The latent dynamics: emission rates, daily transitions, opportunity hazard, sales cycle."""

    emission_rates: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
        DEFAULT_EMISSION_RATES
    )
    # Irrelevant visitors (job seekers, students) come in a burst that fades with lead age k:
    # rate x (floor + (1 - floor) exp(-k / fade_days)).
    irrelevant_fade_days: float = 14.0
    irrelevant_fade_floor: float = 0.04
    # Daily transition probabilities; the warming ones are multiplied by the lead's fit factor.
    cold_to_warm: float = 0.004
    cold_to_hot: float = 0.0003
    warm_to_cold: float = 0.05
    warm_to_hot: float = 0.015
    hot_to_warm: float = 0.04
    hot_to_cold: float = 0.01
    # fit factor = exp(weight * clip(win logit - win base, -2, 2))
    fit_transition_weight: float = 1.0
    # Daily probability that a hot lead opens an opportunity.
    opportunity_hazard: float = 0.25
    # Sales cycle D in days: P(D = d) ~ (d - min + 1) exp(-(d - min) / scale) on [min, max].
    sales_cycle_min_days: int = 7
    sales_cycle_max_days: int = 75
    sales_cycle_scale_days: float = 10.0
    # Day-0 logits of (irrelevant, warm, hot) against cold, before attribute effects.
    initial_logit_base: tuple[float, float, float] = (-1.8, -0.9, -2.9)
    win_logit_base: float = -0.9

    def __post_init__(self) -> None:
        if self.sales_cycle_min_days < 1 or self.sales_cycle_max_days < self.sales_cycle_min_days:
            raise ValueError("sales cycle needs 1 <= min_days <= max_days")
        if not 0.0 < self.opportunity_hazard < 1.0:
            raise ValueError("opportunity_hazard must be in (0, 1)")

    @property
    def activity_types(self) -> tuple[str, ...]:
        """Activity type names, in the order of the rate table."""
        return tuple(name for name, _ in self.emission_rates)

    def rate_matrix(self) -> np.ndarray:
        """Daily Poisson rates, shape (states, activity types)."""
        return np.array([rates for _, rates in self.emission_rates], dtype=float).T

    def irrelevant_fade(self, day: np.ndarray | int) -> np.ndarray:
        """Multiplier of the irrelevant state's rates on lead-relative day `day`."""
        floor = self.irrelevant_fade_floor
        return floor + (1.0 - floor) * np.exp(
            -np.asarray(day, dtype=float) / self.irrelevant_fade_days
        )

    def sales_cycle_pmf(self) -> np.ndarray:
        """P(D = d) for d = 0 .. sales_cycle_max_days."""
        lo, hi = self.sales_cycle_min_days, self.sales_cycle_max_days
        d = np.arange(hi + 1, dtype=float)
        weight = np.where(
            d >= lo, (d - lo + 1.0) * np.exp(-(d - lo) / self.sales_cycle_scale_days), 0.0
        )
        return weight / weight.sum()


DEFAULT_PARAMS = WorldParams()


DEFAULT_AS_OF = pd.Timestamp("2026-06-30")


@dataclass(frozen=True)
class DemoConfig:
    """What demo world to generate: size, seed, cut-off, horizon and time windows."""

    n_leads: int = 50_000
    seed: int = 0
    as_of: pd.Timestamp = DEFAULT_AS_OF
    horizon_days: int = 90
    history_days: int = 540
    eval_window_days: int = 120
    params: WorldParams = DEFAULT_PARAMS

    def __post_init__(self) -> None:
        # CRMs hold whole seconds; the exact within-day arithmetic relies on it.
        object.__setattr__(self, "as_of", utc_naive(self.as_of).floor("s"))
        if self.n_leads < 1:
            raise ValueError("n_leads must be positive")
        if min(self.horizon_days, self.history_days, self.eval_window_days) < 1:
            raise ValueError("horizon_days, history_days and eval_window_days must be positive")

    def with_as_of(self, as_of: datetime | pd.Timestamp) -> DemoConfig:
        """This config with another cut-off (tz-aware times are converted to naive UTC)."""
        return replace(self, as_of=utc_naive(as_of))

    @property
    def as_of_seconds(self) -> int:
        """The cut-off in seconds since the epoch."""
        return int(self.as_of.value // 1_000_000_000)


@dataclass(frozen=True, eq=False)
class DemoWorld:
    """A demo CRM export and the exact conversion truth of its open leads."""

    export: Export
    truth: pd.DataFrame  # lead_id, p_true, won (0/1)


# --------------------------------------------------------------------------------------------
# Observed attributes and their effects
# --------------------------------------------------------------------------------------------

MISSING = "missing"

SOURCES = (
    "organic_search",
    "paid_search",
    "referral",
    "webinar",
    "content_syndication",
    "cold_outbound",
    "events",
    "partner",
)
# Source mix at the start and at the end of the history (linear drift in between).
SOURCE_MIX_START = (0.22, 0.10, 0.08, 0.12, 0.07, 0.19, 0.18, 0.04)
SOURCE_MIX_END = (0.21, 0.19, 0.08, 0.11, 0.16, 0.15, 0.06, 0.04)
# Share of free-mail addresses per source (outbound prospects are found by business email).
FREE_MAIL_SHARE = (0.28, 0.25, 0.12, 0.30, 0.35, 0.03, 0.15, 0.10)
CAMPAIGNS: Mapping[str, tuple[str, ...]] = {
    "organic_search": ("SEO - Lead Scoring Guide",),
    "paid_search": (
        "Google Ads - Brand",
        "Google Ads - Competitor Terms",
        "Google Ads - Lead Scoring",
        "LinkedIn Ads - ABM",
    ),
    "referral": ("Customer Referral Program",),
    "webinar": (
        "Webinar - Scoring That Sales Trusts",
        "Webinar - Pipeline Forecasting",
        "Webinar - RevOps Roundtable",
    ),
    "content_syndication": (
        "Syndication - State of B2B Ebook",
        "Syndication - Intent Data Guide",
    ),
    "cold_outbound": ("Outbound - Enterprise SDR", "Outbound - Mid-Market Sequence"),
    "events": ("Event - SaaStr", "Event - Dreamforce Booth", "Event - Regional Roadshow"),
    "partner": ("Partner - Agency Network", "Partner - Marketplace"),
}
CAMPAIGN_MISSING_SHARE = (0.85, 0.05, 0.6, 0.02, 0.02, 0.1, 0.05, 0.3)

COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "IN", "BR", "ES", "SE", "JP", "SG", "MX")
COUNTRY_WEIGHTS = (
    0.38,
    0.10,
    0.09,
    0.06,
    0.06,
    0.04,
    0.04,
    0.07,
    0.04,
    0.03,
    0.03,
    0.02,
    0.02,
    0.02,
)
INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "retail",
    "education",
    "government",
    "media",
    "professional_services",
    "telecom",
    "nonprofit",
)
INDUSTRY_WEIGHTS = (0.22, 0.12, 0.10, 0.12, 0.10, 0.07, 0.04, 0.06, 0.10, 0.04, 0.03)
FREE_MAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "aol.com",
    "gmx.de",
    "proton.me",
)
FREE_MAIL_WEIGHTS = (0.50, 0.12, 0.12, 0.12, 0.06, 0.03, 0.03, 0.02)
COMPETITOR_DOMAINS = ("scorely.io", "leadpulse.com", "pipelinely.com")
REVENUE_BANDS = ("<1M", "1M-10M", "10M-50M", "50M-250M", "250M-1B", "1B+")
REVENUE_BAND_EDGES = (1e6, 1e7, 5e7, 2.5e8, 1e9)
SENIORITIES = ("student", "intern", "individual", "manager", "director", "vp", "executive")
SENIORITY_MIX_BUSINESS = (0.02, 0.03, 0.33, 0.27, 0.17, 0.10, 0.08)
SENIORITY_MIX_FREE_MAIL = (0.20, 0.10, 0.35, 0.15, 0.08, 0.04, 0.08)
SENIORITY_MIX_OUTBOUND = (0.0, 0.0, 0.20, 0.35, 0.25, 0.12, 0.08)
DEPARTMENT_WEIGHTS: Mapping[str, float] = {
    "marketing": 0.30,
    "sales": 0.22,
    "operations": 0.12,
    "engineering": 0.14,
    "it": 0.08,
    "finance": 0.05,
    "hr": 0.05,
    "general": 0.04,
}
# Free-text job titles by (seniority, department); a tenth also appear lowercased.
JOB_TITLES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("student", "general"): (
        "Student",
        "MBA Student",
        "PhD Candidate",
        "Graduate Student",
        "Job Seeker",
        "Open to work",
        "Recent Graduate",
    ),
    ("intern", "marketing"): ("Marketing Intern",),
    ("intern", "sales"): ("Sales Intern",),
    ("intern", "engineering"): ("Software Engineering Intern",),
    ("intern", "hr"): ("HR Intern",),
    ("intern", "general"): ("Intern", "Summer Intern"),
    ("individual", "marketing"): (
        "Marketing Specialist",
        "Content Marketer",
        "Marketing Coordinator",
        "Growth Marketer",
        "SEO Specialist",
    ),
    ("individual", "sales"): (
        "Account Executive",
        "Sales Development Representative",
        "SDR",
        "Sales Rep",
        "BDR",
    ),
    ("individual", "operations"): (
        "Operations Analyst",
        "Business Analyst",
        "Revenue Operations Analyst",
    ),
    ("individual", "engineering"): (
        "Software Engineer",
        "Developer",
        "Data Scientist",
        "Senior Software Engineer",
    ),
    ("individual", "it"): ("IT Specialist", "System Administrator", "Sysadmin"),
    ("individual", "finance"): ("Accountant", "Financial Analyst"),
    ("individual", "hr"): ("Recruiter", "HR Generalist", "Talent Acquisition Specialist"),
    ("individual", "general"): ("Consultant", "Analyst"),
    ("manager", "marketing"): (
        "Marketing Manager",
        "Demand Generation Manager",
        "Marketing Ops Manager",
    ),
    ("manager", "sales"): ("Sales Manager", "Inside Sales Manager"),
    ("manager", "operations"): ("Operations Manager", "RevOps Manager", "Sales Ops Manager"),
    ("manager", "engineering"): ("Engineering Manager",),
    ("manager", "it"): ("IT Manager",),
    ("manager", "finance"): ("Finance Manager",),
    ("manager", "hr"): ("HR Manager",),
    ("manager", "general"): ("Manager", "Product Manager", "Office Manager"),
    ("director", "marketing"): ("Director of Marketing", "Marketing Director", "Head of Growth"),
    ("director", "sales"): ("Sales Director", "Director of Sales", "Head of Sales"),
    ("director", "operations"): ("Head of Sales Ops", "Director, Operations", "Head of RevOps"),
    ("director", "engineering"): ("Director of Engineering", "Head of Engineering"),
    ("director", "it"): ("Director, IT", "IT Director"),
    ("director", "finance"): ("Finance Director",),
    ("director", "hr"): ("Head of People",),
    ("director", "general"): ("Director",),
    ("vp", "marketing"): ("VP of Marketing", "VP Marketing", "SVP Marketing"),
    ("vp", "sales"): ("Vice President, Sales", "VP Sales", "EVP Sales"),
    ("vp", "operations"): ("VP Operations", "VP Revenue Operations"),
    ("vp", "engineering"): ("VP of Engineering",),
    ("vp", "it"): ("VP IT",),
    ("vp", "finance"): ("VP Finance",),
    ("vp", "hr"): ("VP People",),
    ("vp", "general"): ("Vice President",),
    ("executive", "marketing"): ("CMO", "Chief Marketing Officer"),
    ("executive", "sales"): ("CRO", "Chief Revenue Officer"),
    ("executive", "operations"): ("COO",),
    ("executive", "engineering"): ("CTO",),
    ("executive", "it"): ("CIO",),
    ("executive", "finance"): ("CFO",),
    ("executive", "general"): ("CEO", "Founder", "Co-founder", "Owner", "Managing Director"),
}

# Day-0 logit effects on (irrelevant, warm, hot) against cold, per attribute and level. Levels
# not listed (unknown) have no effect; MISSING is the level of an empty field.
INITIAL_LOGIT_EFFECTS: Mapping[str, Mapping[str, tuple[float, float, float]]] = {
    "source": {
        "organic_search": (0.2, 0.3, 0.5),
        "paid_search": (0.3, 0.2, 0.3),
        "referral": (-0.6, 0.5, 1.0),
        "webinar": (0.0, 0.7, 0.2),
        "content_syndication": (0.4, 0.1, -0.6),
        "cold_outbound": (-0.4, -1.6, -2.5),
        "events": (0.1, 0.2, 0.0),
        "partner": (-0.5, 0.4, 0.8),
        MISSING: (0.3, 0.0, 0.0),
    },
    "seniority": {
        "student": (3.2, -0.5, -1.5),
        "intern": (2.3, -0.3, -1.0),
        "individual": (0.3, 0.0, -0.3),
        "manager": (-0.3, 0.2, 0.2),
        "director": (-0.6, 0.3, 0.5),
        "vp": (-0.8, 0.3, 0.5),
        "executive": (-0.6, 0.1, 0.4),
        MISSING: (0.4, 0.0, -0.2),
    },
    "department": {
        "marketing": (-0.2, 0.3, 0.3),
        "sales": (-0.2, 0.2, 0.3),
        "operations": (0.0, 0.1, 0.2),
        "engineering": (0.4, -0.2, -0.3),
        "it": (0.1, 0.0, 0.0),
        "finance": (0.2, -0.3, -0.3),
        "hr": (0.9, -0.3, -0.5),
    },
    "email": {
        "free_mail": (1.0, -0.2, -0.7),
        "competitor": (5.0, 0.0, 0.0),
        MISSING: (0.4, -0.1, -0.3),
    },
    "industry": {
        "software": (0.0, 0.2, 0.2),
        "education": (1.0, 0.0, -0.3),
        "government": (0.2, -0.1, -0.2),
        "nonprofit": (0.3, -0.1, -0.3),
        MISSING: (0.3, -0.1, -0.1),
    },
    "company_size": {MISSING: (0.3, 0.0, -0.1)},
    "lead_form_score": {MISSING: (0.0, 0.0, 0.0)},
}
# Per unit of a numeric attribute (log10 employees - 2; (form score - 50) / 50).
INITIAL_LOGIT_SLOPES: Mapping[str, tuple[float, float, float]] = {
    "log_company_size": (-0.1, 0.0, 0.15),
    "lead_form_score": (0.0, 0.3, 0.5),
}
# Win-probability logit effects (firmographic fit), on top of `win_logit_base`.
WIN_LOGIT_EFFECTS: Mapping[str, Mapping[str, float]] = {
    "source": {"referral": 0.3, "partner": 0.3, "cold_outbound": -0.1},
    "seniority": {
        "student": -1.0,
        "intern": -0.8,
        "individual": -0.2,
        "manager": 0.15,
        "director": 0.35,
        "vp": 0.4,
        "executive": 0.3,
        MISSING: -0.2,
    },
    "department": {"marketing": 0.2, "sales": 0.2, "operations": 0.15, "hr": -0.3},
    "email": {"free_mail": -0.8, "competitor": -2.0, MISSING: -0.3},
    "industry": {
        "software": 0.3,
        "financial_services": 0.2,
        "professional_services": 0.1,
        "telecom": 0.1,
        "manufacturing": -0.1,
        "retail": -0.1,
        "education": -0.6,
        "government": -0.5,
        "nonprofit": -0.7,
        MISSING: -0.2,
    },
    "country": {"US": 0.1, "GB": 0.05, "IN": -0.3, "BR": -0.2, "MX": -0.2, MISSING: -0.1},
    "company_size": {MISSING: -0.25},
    "annual_revenue_band": {
        "<1M": -0.3,
        "1M-10M": -0.1,
        "50M-250M": 0.15,
        "250M-1B": 0.2,
        "1B+": 0.1,
    },
}
WIN_LOGIT_SIZE_SLOPE = 0.45  # per log10 employee above 100 (clipped to 1 .. 100k employees)


@cache
def job_title_catalogue() -> Mapping[str, tuple[str, str]]:
    """Every job title string the demo world writes, with its (seniority, department)."""
    catalogue: dict[str, tuple[str, str]] = {}
    for key, titles in JOB_TITLES.items():
        for title in titles:
            for text in (title, title.lower()):
                if catalogue.setdefault(text, key) != key:
                    raise ValueError(f"job title {text!r} is ambiguous")
    return catalogue


@dataclass(frozen=True)
class LeadCovariates:
    """What the latent journey of each lead depends on, derived from its export columns only."""

    log_initial: np.ndarray  # (n, 4) log P(day-0 state)
    transitions: np.ndarray  # (n, 4, 4) daily transition matrix
    win_probability: np.ndarray  # (n,) P(won | opportunity)


def _levels(values: pd.Series, table: Mapping[str, object], default: object) -> np.ndarray:
    """Look up each value's effect in `table`; empty values take the MISSING level."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    missing = table.get(MISSING, default)
    lookup = [table.get(str(u), default) for u in uniques] + [missing]
    return np.asarray(lookup, dtype=float)[np.where(codes < 0, len(uniques), codes)]


def _email_kind(domain: pd.Series) -> pd.Series:
    lowered = domain.str.lower()
    kind = np.where(lowered.isin(FREE_MAIL_DOMAINS), "free_mail", "business").astype(object)
    kind[lowered.isin(COMPETITOR_DOMAINS).to_numpy()] = "competitor"
    kind[domain.isna().to_numpy()] = None
    return pd.Series(kind, index=domain.index, dtype="str")


def lead_covariates(leads: pd.DataFrame, params: WorldParams = DEFAULT_PARAMS) -> LeadCovariates:
    """Initial state distribution, transitions and win probability of each lead in `leads`."""
    catalogue = job_title_catalogue()
    titles = leads["job_title"]
    known = titles.map(catalogue)
    seniority = pd.Series(
        [t[0] if isinstance(t, tuple) else "unknown" for t in known], index=leads.index
    ).where(titles.notna())
    department = pd.Series(
        [t[1] if isinstance(t, tuple) else "unknown" for t in known], index=leads.index
    ).where(titles.notna())
    attributes = {
        "source": leads["source"],
        "seniority": seniority,
        "department": department,
        "email": _email_kind(leads["email_domain"]),
        "industry": leads["industry"],
        "country": leads["country"],
        "company_size": leads["company_size"].where(leads["company_size"].isna(), "known"),
        "annual_revenue_band": leads["annual_revenue_band"],
        "lead_form_score": leads["lead_form_score"].where(leads["lead_form_score"].isna(), "known"),
    }
    size = leads["company_size"].to_numpy(dtype=float)
    log_size = np.where(np.isnan(size), 0.0, np.log10(np.clip(size, 1.0, 1e5)) - 2.0)
    form = leads["lead_form_score"].to_numpy(dtype=float)
    form_z = np.where(np.isnan(form), 0.0, (form - 50.0) / 50.0)

    n = len(leads)
    logits = np.zeros((n, 4))
    logits[:, [IRRELEVANT, WARM, HOT]] = params.initial_logit_base
    for name, table in INITIAL_LOGIT_EFFECTS.items():
        for j, state in enumerate((IRRELEVANT, WARM, HOT)):
            column = {level: effect[j] for level, effect in table.items()}
            logits[:, state] += _levels(attributes[name], column, 0.0)
    for j, state in enumerate((IRRELEVANT, WARM, HOT)):
        logits[:, state] += INITIAL_LOGIT_SLOPES["log_company_size"][j] * log_size
        logits[:, state] += INITIAL_LOGIT_SLOPES["lead_form_score"][j] * form_z
    log_initial = logits - _logsumexp(logits, axis=1)[:, None]

    win_logit = np.full(n, params.win_logit_base) + WIN_LOGIT_SIZE_SLOPE * log_size
    for name, win_table in WIN_LOGIT_EFFECTS.items():
        win_logit += _levels(attributes[name], win_table, 0.0)
    win_probability = 1.0 / (1.0 + np.exp(-win_logit))

    fit = np.exp(
        params.fit_transition_weight * np.clip(win_logit - params.win_logit_base, -2.0, 2.0)
    )
    transitions = np.zeros((n, 4, 4))
    transitions[:, IRRELEVANT, IRRELEVANT] = 1.0
    transitions[:, COLD, WARM] = params.cold_to_warm * fit
    transitions[:, COLD, HOT] = params.cold_to_hot * fit
    transitions[:, WARM, COLD] = params.warm_to_cold
    transitions[:, WARM, HOT] = params.warm_to_hot * fit
    transitions[:, HOT, COLD] = params.hot_to_cold
    transitions[:, HOT, WARM] = params.hot_to_warm
    for state in (COLD, WARM, HOT):
        transitions[:, state, state] = 1.0 - transitions[:, state].sum(axis=1)
    return LeadCovariates(log_initial, transitions, win_probability)


# --------------------------------------------------------------------------------------------
# Sampling the observed leads
# --------------------------------------------------------------------------------------------


def _draw_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `probabilities` (rows sum to 1)."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=1), probabilities.shape[1] - 1)


def _draw(
    rng: np.random.Generator, weights: tuple[float, ...] | np.ndarray, size: int
) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _strings(labels: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """String column from integer codes into `labels` (negative code: missing)."""
    table = np.array([*labels, None], dtype=object)
    return pd.Series(table[np.where(codes < 0, len(labels), codes)], dtype="str")


_NAME_PARTS = (
    (
        "acme", "nova", "blue", "north", "bright", "peak", "quant", "data", "cloud", "green",
        "iron", "silver", "swift", "terra", "vertex", "zen", "alpha", "orbit", "pixel", "lumen",
        "atlas", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "indigo", "juniper",
        "keystone", "lynx", "maple", "nimbus", "onyx", "pioneer", "quartz", "river", "summit",
        "tidal", "vivid",
    ),
    (
        "", "line", "path", "stack", "wave", "point", "bridge", "gate", "mark", "field", "stone",
        "light", "core", "scale", "sight", "flow", "bit", "leaf", "spring", "forge",
    ),
    (
        "soft", "labs", "works", "logic", "systems", "tech", "metrics", "ware", "ify", "hq",
        "group", "analytics", "dynamics", "health", "bank", "retail", "media", "partners",
        "solutions", "ai", "cloud", "apps", "energy", "motors", "foods",
    ),
)  # fmt: skip
_TLDS = (".com", ".io", ".co", ".de", ".co.uk", ".fr", ".net")
_TLD_WEIGHTS = (0.55, 0.12, 0.08, 0.08, 0.08, 0.05, 0.04)


def _company_domains(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct invented business domains."""
    a, b, c = (len(part) for part in _NAME_PARTS)
    picks = rng.choice(a * b * c, size=n, replace=n > a * b * c)
    tlds = _draw(rng, _TLD_WEIGHTS, n)
    domains = []
    for i, (pick, tld) in enumerate(zip(picks, tlds, strict=True)):
        name = _NAME_PARTS[0][pick // (b * c)] + _NAME_PARTS[1][pick // c % b]
        name += _NAME_PARTS[2][pick % c]
        # Beyond the name space a number keeps domains distinct.
        domains.append(f"{name}{i if n > a * b * c else ''}{_TLDS[tld]}")
    return domains


def _lognormal_employees(
    rng: np.random.Generator, median: float, sigma: float, n: int
) -> np.ndarray:
    return np.clip(np.round(median * np.exp(sigma * rng.standard_normal(n))), 1, 250_000)


@dataclass(frozen=True)
class _SampledLeads:
    frame: pd.DataFrame  # the export's leads table
    created: np.ndarray  # seconds since the epoch
    employees: np.ndarray  # true company size, also where the export misses it


def _sample_leads(config: DemoConfig, rng: np.random.Generator) -> _SampledLeads:
    """Observed lead attributes (and missingness), in order of creation."""
    n, history = config.n_leads, config.history_days
    as_of = config.as_of_seconds
    # Volume grows 2.5x over the history: inverse CDF of an exponential density.
    growth = np.log(2.5) / history
    day = np.log1p(rng.random(n) * np.expm1(growth * history)) / growth
    hour_weights = np.array(
        [2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3]
    )
    hour = _draw(rng, hour_weights / hour_weights.sum(), n)
    created = as_of - history * DAY + np.floor(day).astype(np.int64) * DAY
    created += hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(created, kind="stable")
    created, day = created[order], day[order]
    progress = day / history

    mix = np.outer(1 - progress, SOURCE_MIX_START) + np.outer(progress, SOURCE_MIX_END)
    source = _draw_rows(rng, mix)
    source_missing = rng.random(n) < 0.02

    # Campaign names: "<year> Q<quarter> <stem>", stems tied to the source.
    stems = [stem for s in SOURCES for stem in CAMPAIGNS[s]]
    stem_offset = np.cumsum([0] + [len(CAMPAIGNS[s]) for s in SOURCES])
    stem_count = np.diff(stem_offset)
    stem = stem_offset[source] + (rng.random(n) * stem_count[source]).astype(int)
    created_ts = pd.to_datetime(created, unit="s")
    quarter_key = (created_ts.year * 4 + (created_ts.month - 1) // 3).to_numpy()
    campaign_code, campaign_uniques = pd.factorize(stem * 100_000 + quarter_key)
    labels = [
        f"{(key % 100_000) // 4} Q{(key % 100_000) % 4 + 1} {stems[key // 100_000]}"
        for key in campaign_uniques
    ]
    no_campaign = rng.random(n) < np.asarray(CAMPAIGN_MISSING_SHARE)[source]
    campaign_code = np.where(no_campaign, -1, campaign_code)

    # Email: free-mail, business (a company) or a competitor snooping around.
    free_mail = rng.random(n) < np.asarray(FREE_MAIL_SHARE)[source]
    outbound = source == SOURCES.index("cold_outbound")
    competitor = ~free_mail & ~outbound & (rng.random(n) < 0.006)
    n_companies = int(min(20_000, max(20, n // 3)))
    company_domain = _company_domains(rng, n_companies)
    company_size = _lognormal_employees(rng, 150.0, 1.8, n_companies)
    company_industry = _draw(rng, INDUSTRY_WEIGHTS, n_companies)
    company_country = _draw(rng, COUNTRY_WEIGHTS, n_companies)
    popularity = 1.0 / (np.arange(n_companies) + 10.0) ** 0.9
    company = _draw(rng, popularity, n)
    competitor_pick = rng.integers(0, len(COMPETITOR_DOMAINS), n)
    free_pick = _draw(rng, FREE_MAIL_WEIGHTS, n)
    domains = np.array([*company_domain, *FREE_MAIL_DOMAINS, *COMPETITOR_DOMAINS], dtype=object)
    domain_code = np.where(
        free_mail,
        n_companies + free_pick,
        np.where(competitor, n_companies + len(FREE_MAIL_DOMAINS) + competitor_pick, company),
    )
    email_missing = rng.random(n) < np.where(source == SOURCES.index("events"), 0.08, 0.03)
    domain_code = np.where(email_missing, -1, domain_code)

    # Free-mail leads report their company (if at all) on the form: smaller, independent draws.
    own_size = _lognormal_employees(rng, 20.0, 1.5, n)
    employees = np.where(free_mail, own_size, company_size[company])
    employees = np.where(competitor, 800.0, employees)
    industry = np.where(free_mail, _draw(rng, INDUSTRY_WEIGHTS, n), company_industry[company])
    industry = np.where(competitor, INDUSTRIES.index("software"), industry)
    country = np.where(free_mail, _draw(rng, COUNTRY_WEIGHTS, n), company_country[company])
    size_missing = rng.random(n) < np.where(free_mail, 0.5, np.where(email_missing, 0.4, 0.15))
    industry_missing = rng.random(n) < np.where(free_mail, 0.45, 0.10)
    country_missing = rng.random(n) < 0.06

    # Job titles: seniority by email kind and source, department by weight, a free-text variant.
    mix = np.where(
        outbound[:, None],
        np.asarray(SENIORITY_MIX_OUTBOUND),
        np.where(
            free_mail[:, None],
            np.asarray(SENIORITY_MIX_FREE_MAIL),
            np.asarray(SENIORITY_MIX_BUSINESS),
        ),
    )
    seniority = _draw_rows(rng, mix)
    titles: list[str] = []
    title_weight: list[float] = []
    title_seniority: list[int] = []
    for (level, department), variants in JOB_TITLES.items():
        for text in variants:
            titles.append(text)
            title_weight.append(DEPARTMENT_WEIGHTS[department] / len(variants))
            title_seniority.append(SENIORITIES.index(level))
    weight = np.asarray(title_weight)
    per_level = np.asarray(title_seniority)[None, :] == np.arange(len(SENIORITIES))[:, None]
    title_mix = per_level * weight
    title_mix /= title_mix.sum(axis=1, keepdims=True)
    title = _draw_rows(rng, title_mix[seniority])
    lowercase = rng.random(n) < 0.1
    title_code = 2 * title + lowercase.astype(np.int64)
    title_missing = rng.random(n) < np.select(
        [source == SOURCES.index("content_syndication"), source == SOURCES.index("events")],
        [0.02, 0.12],
        0.08,
    )
    title_code = np.where(title_missing, -1, title_code)
    title_labels = [text for t in titles for text in (t, t.lower())]

    # Custom CRM fields: a revenue band from the true size, and a score from the lead form.
    revenue = employees * 180_000.0 * np.exp(0.7 * rng.standard_normal(n))
    band = np.searchsorted(REVENUE_BAND_EDGES, revenue)
    band = np.where(rng.random(n) < 0.35, -1, band)
    form_sources = [SOURCES.index(s) for s in ("cold_outbound", "events", "partner")]
    no_form = np.isin(source, form_sources) | source_missing
    form_score = np.round(100 * rng.beta(2.0, 2.5, n))
    form_score = np.where(no_form | (rng.random(n) < 0.15), np.nan, form_score)

    width = max(7, len(str(n)))
    frame = pd.DataFrame(
        {
            "lead_id": pd.Series([f"L{i:0{width}d}" for i in range(1, n + 1)], dtype="str"),
            "created_at": pd.to_datetime(created, unit="s").as_unit("ns"),
            "source": _strings(SOURCES, np.where(source_missing, -1, source)),
            "campaign": _strings(labels, campaign_code),
            "country": _strings(COUNTRIES, np.where(country_missing, -1, country)),
            "industry": _strings(INDUSTRIES, np.where(industry_missing, -1, industry)),
            "company_size": np.where(size_missing, np.nan, employees),
            "job_title": _strings(title_labels, title_code),
            "email_domain": _strings(list(domains), domain_code),
            "annual_revenue_band": _strings(REVENUE_BANDS, band),
            "lead_form_score": form_score,
        }
    )
    return _SampledLeads(frame, created, employees)


# --------------------------------------------------------------------------------------------
# Simulating the journeys
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Journeys:
    """Simulated journeys: visible activities (before as_of) and every lead's opportunity."""

    event_lead: np.ndarray  # row of the lead
    event_time: np.ndarray  # seconds since the epoch, < as_of
    event_type: np.ndarray  # index into params.activity_types
    open_time: np.ndarray  # seconds since the epoch; -1: no opportunity before as_of + horizon
    cycle_days: np.ndarray  # sales cycle D if an opportunity opens
    won: np.ndarray  # bool: the opportunity (if any) closes won


def simulate_journeys(
    created: np.ndarray,
    covariates: LeadCovariates,
    as_of: int,
    horizon_days: int,
    params: WorldParams,
    rng: np.random.Generator,
) -> Journeys:
    """Run each lead's hidden Markov journey from creation to as_of + horizon, vectorised by day."""
    n = len(created)
    rates = params.rate_matrix()
    total_rate = rates.sum(axis=1)
    observed_days = (as_of - created) // DAY  # the day holding as_of is the last with activities
    end_day = -((created - as_of - horizon_days * DAY) // DAY)  # days starting before the end
    transition_cdf = np.cumsum(covariates.transitions, axis=2)
    initial = np.exp(covariates.log_initial)
    state = _draw_rows(rng, initial / initial.sum(axis=1, keepdims=True))
    open_time = np.full(n, -1, dtype=np.int64)
    hazard = params.opportunity_hazard

    emitting: list[np.ndarray] = []
    emitting_state: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    days: list[np.ndarray] = []
    alive = np.flatnonzero(end_day > 0)
    day = 0
    while alive.size:
        if day > 0:
            cdf = transition_cdf[alive, state[alive]]
            u = rng.random(alive.size)[:, None] * cdf[:, -1:]
            state[alive] = np.minimum((cdf <= u).sum(axis=1), 3)
        current = state[alive]
        lam = total_rate[current]
        lam = np.where(current == IRRELEVANT, lam * params.irrelevant_fade(day), lam)
        lam = np.where(day <= observed_days[alive], lam, 0.0)
        count = rng.poisson(lam)
        hit = count > 0
        emitting.append(alive[hit])
        emitting_state.append(current[hit])
        counts.append(count[hit])
        days.append(np.full(int(hit.sum()), day))

        hot = alive[current == HOT]
        opens = hot[rng.random(hot.size) < hazard]
        open_time[opens] = created[opens] + day * DAY + rng.integers(0, DAY, opens.size)

        day += 1
        still = (open_time[alive] < 0) & (day < end_day[alive])
        # Irrelevant leads never buy: once past as_of they have nothing left to show.
        still &= (current != IRRELEVANT) | (day <= observed_days[alive])
        alive = alive[still]

    count = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    event_lead = np.repeat(np.concatenate(emitting), count) if counts else count
    event_day = np.repeat(np.concatenate(days), count) if counts else count
    event_state = np.repeat(np.concatenate(emitting_state), count) if counts else count
    # Given the day's total, each event's type is categorical with the state's rate shares.
    event_type = np.zeros(event_lead.size, dtype=np.int64)
    type_cdf = np.cumsum(rates, axis=1) / total_rate[:, None]
    for s in range(len(STATES)):
        mine = np.flatnonzero(event_state == s)
        picks = np.searchsorted(type_cdf[s], rng.random(mine.size), side="right")
        event_type[mine] = np.minimum(picks, rates.shape[1] - 1)
    event_time = created[event_lead] + event_day * DAY + rng.integers(0, DAY, event_lead.size)
    opened = open_time[event_lead]
    visible = (event_time < as_of) & ((opened < 0) | (event_time < opened))

    pmf = params.sales_cycle_pmf()
    cycle_days = rng.choice(pmf.size, size=n, p=pmf)
    won = rng.random(n) < covariates.win_probability
    return Journeys(
        event_lead=event_lead[visible],
        event_time=event_time[visible],
        event_type=event_type[visible],
        open_time=open_time,
        cycle_days=cycle_days,
        won=won,
    )


# --------------------------------------------------------------------------------------------
# Exact posterior
# --------------------------------------------------------------------------------------------


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)), axis)


def filter_won_probability(
    created: np.ndarray,
    covariates: LeadCovariates,
    event_lead: np.ndarray,
    event_time: np.ndarray,
    event_type: np.ndarray,
    as_of: int,
    horizon_days: int,
    params: WorldParams,
) -> np.ndarray:
    """Exact P(opportunity opens after as_of, closes won by as_of + horizon | what was seen).

    For leads without an opportunity before `as_of`; events are all their activities before it.
    """
    n = len(created)
    age = as_of - created
    if np.any(age <= 0):
        raise ValueError("every lead must be created before as_of")
    last_day = age // DAY  # the partial day holding as_of
    seen_seconds = age % DAY  # of the partial day, before as_of
    seen_fraction = seen_seconds / DAY
    n_days = int(last_day.max()) + 1
    rates = params.rate_matrix()
    total_rate = rates.sum(axis=1)
    hazard = params.opportunity_hazard

    event_day = (event_time - created[event_lead]) // DAY
    if np.any(event_day < 0) or np.any(event_day > last_day[event_lead]):
        raise ValueError("events must lie between their lead's creation and as_of")

    # Leads by last observed day, longest first: the leads still observed on a day are a prefix.
    order = np.argsort(-last_day, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    sorted_last_day = last_day[order]
    observed = np.searchsorted(-sorted_last_day, -np.arange(n_days), side="right")
    by_day = np.argsort(event_day, kind="stable")
    event_rank, event_type, event_day = (
        rank[event_lead][by_day],
        event_type[by_day],
        event_day[by_day],
    )
    day_bounds = np.searchsorted(event_day, np.arange(n_days + 1))
    log_rates = np.log(rates)
    transitions = covariates.transitions[order]
    alpha = np.exp(covariates.log_initial[order])  # P(state of the day | seen so far)
    for day in range(n_days):
        m = observed[day]
        # Poisson log-likelihood of the day's counts per state, up to the state-free log k!.
        loglik = np.zeros((m, len(STATES)))
        lo, hi = day_bounds[day], day_bounds[day + 1]
        day_log_rates = log_rates[:, event_type[lo:hi]]
        day_log_rates[IRRELEVANT] += np.log(params.irrelevant_fade(day))
        for s in range(len(STATES)):
            loglik[:, s] = np.bincount(event_rank[lo:hi], weights=day_log_rates[s], minlength=m)
        exposure = np.where(sorted_last_day[:m] > day, 1.0, seen_fraction[order[:m]])
        day_rate = total_rate.copy()
        day_rate[IRRELEVANT] *= float(params.irrelevant_fade(day))
        loglik -= exposure[:, None] * day_rate[None, :]
        # Seen: no opportunity opened in the seen part of the day.
        loglik[:, HOT] += np.log1p(-hazard * exposure)
        prior = alpha[:m] if day == 0 else np.einsum("ns,nst->nt", alpha[:m], transitions[:m])
        # The floor only guards 0/0 after an underflow; it moves p by < 1e-290.
        posterior = np.maximum(prior, 1e-300) * np.exp(loglik - loglik.max(axis=1, keepdims=True))
        alpha[:m] = posterior / posterior.sum(axis=1, keepdims=True)
    alpha = alpha[rank]

    # Opening on a future day e (0 = the rest of the partial day) at a uniform second s, closing
    # after D days, won iff open + D days <= as_of + horizon. With a = seen seconds:
    # e = 0: s uniform on [a, DAY) -> P = F(H-1) + P(D=H) / (DAY - a)
    # e > 0: s uniform on [0, DAY) -> P = F(H-e-1) + P(D=H-e) (a+1) / DAY
    pmf = params.sales_cycle_pmf()
    pmf = np.concatenate([pmf, np.zeros(max(0, horizon_days + 2 - pmf.size))])
    cdf = np.cumsum(pmf)

    def cdf_at(d: int) -> float:
        return float(cdf[d]) if d >= 0 else 0.0

    hot = alpha[:, HOT]
    open_rest = hot * hazard * (1 - seen_fraction) / (1 - hazard * seen_fraction)
    close_in_time = cdf_at(horizon_days - 1) + pmf[horizon_days] / (DAY - seen_seconds)
    total = open_rest * close_in_time
    beta = alpha.copy()  # P(state, no opportunity yet) at the end of each future day
    beta[:, HOT] *= (1 - hazard) / (1 - hazard * seen_fraction)
    for e in range(1, horizon_days + 1):
        beta = np.einsum("ns,nst->nt", beta, covariates.transitions)
        opening = beta[:, HOT] * hazard
        close_in_time = (
            cdf_at(horizon_days - e - 1) + pmf[horizon_days - e] * (seen_seconds + 1) / DAY
        )
        total += opening * close_in_time
        beta[:, HOT] *= 1 - hazard
    return covariates.win_probability * total


# --------------------------------------------------------------------------------------------
# The export and its truth
# --------------------------------------------------------------------------------------------

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
    return _strings(vocabulary, codes)


def _timestamps(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(seconds, unit="s").as_unit("ns"))


def _seconds(stamps: pd.Series) -> np.ndarray:
    return stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64) // 1_000_000_000


def _build_export(
    sampled: _SampledLeads,
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
            "activity_type": _strings(types, event_type),
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
    rng = np.random.default_rng(config.seed)
    sampled = _sample_leads(config, rng)
    covariates = lead_covariates(sampled.frame, config.params)
    as_of = config.as_of_seconds
    journeys = simulate_journeys(
        sampled.created, covariates, as_of, config.horizon_days, config.params, rng
    )
    export = _build_export(sampled, journeys, config, rng)

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

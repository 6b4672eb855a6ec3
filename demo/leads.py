"""Sampling the demo world's leads: what a CRM's leads table holds, missing fields included."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo.attributes import (
    CAMPAIGN_MISSING_SHARE,
    CAMPAIGNS,
    COMPETITOR_DOMAINS,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    CUSTOM_FIELDS,
    DEPARTMENT_WEIGHTS,
    FREE_MAIL_DOMAINS,
    FREE_MAIL_SHARE,
    FREE_MAIL_WEIGHTS,
    INDUSTRIES,
    INDUSTRY_WEIGHTS,
    JOB_TITLES,
    REVENUE_BAND_EDGES,
    REVENUE_BANDS,
    SENIORITIES,
    SENIORITY_MIX_BUSINESS,
    SENIORITY_MIX_FREE_MAIL,
    SENIORITY_MIX_OUTBOUND,
    SOURCES,
)
from demo.draws import draw, draw_rows, strings
from demo.params import DAY, DemoConfig

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
    tlds = draw(rng, _TLD_WEIGHTS, n)
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
class SampledLeads:
    frame: pd.DataFrame  # the export's leads table
    created: np.ndarray  # seconds since the epoch
    employees: np.ndarray  # true company size, also where the export misses it


def sample_leads(config: DemoConfig, rng: np.random.Generator) -> SampledLeads:
    """Observed lead attributes (and missingness), in order of creation."""
    n, history = config.n_leads, config.history_days
    params = config.params
    as_of = config.as_of_seconds
    # Volume grows 2.5x over the history: inverse CDF of an exponential density.
    growth = np.log(2.5) / history
    day = np.log1p(rng.random(n) * np.expm1(growth * history)) / growth
    hour_weights = np.array(
        [2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3]
    )
    hour = draw(rng, hour_weights / hour_weights.sum(), n)
    created = as_of - history * DAY + np.floor(day).astype(np.int64) * DAY
    created += hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(created, kind="stable")
    created, day = created[order], day[order]
    progress = day / history

    mix = np.outer(1 - progress, params.source_mix_start) + np.outer(
        progress, params.source_mix_end
    )
    source = draw_rows(rng, mix)
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
    company_industry = draw(rng, INDUSTRY_WEIGHTS, n_companies)
    company_country = draw(rng, COUNTRY_WEIGHTS, n_companies)
    popularity = 1.0 / (np.arange(n_companies) + 10.0) ** 0.9
    company = draw(rng, popularity, n)
    competitor_pick = rng.integers(0, len(COMPETITOR_DOMAINS), n)
    free_pick = draw(rng, FREE_MAIL_WEIGHTS, n)
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
    industry = np.where(free_mail, draw(rng, INDUSTRY_WEIGHTS, n), company_industry[company])
    industry = np.where(competitor, INDUSTRIES.index("software"), industry)
    country = np.where(free_mail, draw(rng, COUNTRY_WEIGHTS, n), company_country[company])
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
    seniority = draw_rows(rng, mix)
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
    title = draw_rows(rng, title_mix[seniority])
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

    # Further custom fields, drawn last so worlds without them keep their random stream.
    custom = {
        field.name: strings(
            field.levels,
            np.where(rng.random(n) < field.missing_share, -1, draw(rng, field.weights, n)),
        )
        for field in CUSTOM_FIELDS[: params.custom_fields]
    }

    width = max(7, len(str(n)))
    frame = pd.DataFrame(
        {
            "lead_id": pd.Series([f"L{i:0{width}d}" for i in range(1, n + 1)], dtype="str"),
            "created_at": pd.to_datetime(created, unit="s").as_unit("ns"),
            "source": strings(SOURCES, np.where(source_missing, -1, source)),
            "campaign": strings(labels, campaign_code),
            "country": strings(COUNTRIES, np.where(country_missing, -1, country)),
            "industry": strings(INDUSTRIES, np.where(industry_missing, -1, industry)),
            "company_size": np.where(size_missing, np.nan, employees),
            "job_title": strings(title_labels, title_code),
            "email_domain": strings(list(domains), domain_code),
            "annual_revenue_band": strings(REVENUE_BANDS, band),
            "lead_form_score": form_score,
            **custom,
        }
    )
    return SampledLeads(frame, created, employees)

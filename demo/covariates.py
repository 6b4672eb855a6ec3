"""What each lead's hidden journey depends on, computed from its export columns only.

Both the simulation and the exact posterior call `lead_covariates`, so the truth of a lead is a
function of what the export shows about it (plus the world's parameters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo.attributes import (
    COMPETITOR_DOMAINS,
    CUSTOM_FIELDS,
    FREE_MAIL_DOMAINS,
    INITIAL_LOGIT_EFFECTS,
    INITIAL_LOGIT_SLOPES,
    MISSING,
    WIN_LOGIT_EFFECTS,
    WIN_LOGIT_SIZE_SLOPE,
    job_title_catalogue,
)
from demo.draws import logsumexp
from demo.params import COLD, DEFAULT_PARAMS, HOT, IRRELEVANT, WARM, WorldParams


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
    scale = params.fit_effect_scale
    logits = np.zeros((n, 4))
    logits[:, [IRRELEVANT, WARM, HOT]] = params.initial_logit_base
    for name, table in INITIAL_LOGIT_EFFECTS.items():
        for j, state in enumerate((IRRELEVANT, WARM, HOT)):
            column = {level: effect[j] for level, effect in table.items()}
            logits[:, state] += scale * _levels(attributes[name], column, 0.0)
    for j, state in enumerate((IRRELEVANT, WARM, HOT)):
        logits[:, state] += scale * INITIAL_LOGIT_SLOPES["log_company_size"][j] * log_size
        logits[:, state] += scale * INITIAL_LOGIT_SLOPES["lead_form_score"][j] * form_z
    custom = CUSTOM_FIELDS[: params.custom_fields]
    for field in custom:
        for j, state in enumerate((WARM, HOT)):
            column = {level: effect[j] for level, effect in field.initial_effects.items()}
            logits[:, state] += scale * _levels(leads[field.name], column, 0.0)
    log_initial = logits - logsumexp(logits, axis=1)[:, None]

    win_logit = np.full(n, params.win_logit_base) + scale * WIN_LOGIT_SIZE_SLOPE * log_size
    for name, win_table in WIN_LOGIT_EFFECTS.items():
        win_logit += scale * _levels(attributes[name], win_table, 0.0)
    for field in custom:
        win_logit += scale * _levels(leads[field.name], dict(field.win_effects), 0.0)
    created = leads["created_at"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    win_logit += params.win_logit_drift(created)
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

"""The hidden journeys: simulating them, and the exact posterior of a lead's outcome.

`simulate_journeys` runs each lead's hidden Markov buyer journey day by day;
`filter_won_probability` computes, for a lead seen only through its export, the exact
probability that an opportunity opens after the cut-off and closes won within the horizon:
forward filtering over the observed days, then propagating the chain over the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo.covariates import LeadCovariates
from demo.draws import draw_rows
from demo.params import DAY, HOT, IRRELEVANT, STATES, WorldParams


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
    state = draw_rows(rng, initial / initial.sum(axis=1, keepdims=True))
    open_time = np.full(n, -1, dtype=np.int64)

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
        opens = hot[rng.random(hot.size) < params.hazard_at(created[hot] + day * DAY)]
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
        hazard = params.hazard_at(created[order[:m]] + day * DAY)
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
    hazard = params.hazard_at(created + last_day * DAY)
    open_rest = hot * hazard * (1 - seen_fraction) / (1 - hazard * seen_fraction)
    close_in_time = cdf_at(horizon_days - 1) + pmf[horizon_days] / (DAY - seen_seconds)
    total = open_rest * close_in_time
    beta = alpha.copy()  # P(state, no opportunity yet) at the end of each future day
    beta[:, HOT] *= (1 - hazard) / (1 - hazard * seen_fraction)
    for e in range(1, horizon_days + 1):
        beta = np.einsum("ns,nst->nt", beta, covariates.transitions)
        hazard = params.hazard_at(created + (last_day + e) * DAY)
        opening = beta[:, HOT] * hazard
        close_in_time = (
            cdf_at(horizon_days - e - 1) + pmf[horizon_days - e] * (seen_seconds + 1) / DAY
        )
        total += opening * close_in_time
        beta[:, HOT] *= 1 - hazard
    return covariates.win_probability * total

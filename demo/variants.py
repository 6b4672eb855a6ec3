"""Named demo worlds: the default one and variants that differ the way real CRMs differ.

Each variant only changes `WorldParams` (and the size), so each keeps an exact `p_true`. The
sizes are what `make bench-worlds` trains on; `leadscore demo-data --world NAME --leads N`
overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from demo.params import (
    DEFAULT_EMISSION_RATES,
    DEFAULT_PARAMS,
    DemoConfig,
    renamed_rates,
    scaled_rates,
)

# Another CRM's activity vocabulary: nothing a built-in phrase or points table knows.
OTHER_CRM_NAMES = {
    "page_view": "Web Visit",
    "pricing_page_view": "Viewed Pricing",
    "careers_page_view": "Jobs Page Visit",
    "about_page_view": "Company Page Visit",
    "blog_view": "Read Article",
    "email_open": "Email Opened",
    "email_click": "Email Link Clicked",
    "webinar_registration": "Event Signup",
    "form_submission": "Form Filled",
    "demo_request": "Book a Meeting",
    "contact_sales": "Talk to an Expert",
    "case_study_download": "Asset Download",
    "chat_started": "Chatbot Conversation",
    "free_trial_signup": "Sandbox Created",
    "unsubscribe": "Opted Out",
}


@dataclass(frozen=True)
class WorldVariant:
    """A named world: what it stands for, and its configuration (size included)."""

    name: str
    summary: str
    config: DemoConfig


def _variant(name: str, summary: str, n_leads: int = 30_000, **params: Any) -> WorldVariant:
    return WorldVariant(
        name, summary, DemoConfig(n_leads=n_leads, params=replace(DEFAULT_PARAMS, **params))
    )


WORLDS: dict[str, WorldVariant] = {
    v.name: v
    for v in (
        WorldVariant(
            "default",
            "The demo world: 7-75 day sales cycles, hand-raisers get an opportunity within days.",
            DemoConfig(n_leads=50_000),
        ),
        _variant(
            "quick_close",
            "Transactional sales: hand-raisers get an opportunity within hours (hazard 0.85 a "
            "day), deals close in 3-30 days (two weeks typical).",
            opportunity_hazard=0.85,
            sales_cycle_min_days=3,
            sales_cycle_max_days=30,
            sales_cycle_scale_days=5.0,
        ),
        _variant(
            "enterprise",
            "Enterprise sales driven by fit: opportunities come weeks after hand-raising (hazard "
            "0.06 a day; many hot leads cool down first and never get one), sales cycles of "
            "3 weeks to 6 months, attribute effects x1.6.",
            opportunity_hazard=0.06,
            sales_cycle_min_days=21,
            sales_cycle_max_days=180,
            sales_cycle_scale_days=30.0,
            fit_effect_scale=1.6,
            fit_transition_weight=1.5,
            hot_to_warm=0.03,
            hot_to_cold=0.02,
        ),
        _variant(
            "behavioural",
            "Conversion driven by behaviour: attribute effects x0.3, the fit barely moves the "
            "journey; who becomes hot is read from activity alone.",
            fit_effect_scale=0.3,
            fit_transition_weight=0.3,
            initial_logit_base=(-1.8, -0.9, -2.6),
        ),
        _variant(
            "drifting",
            "Drift: the source mix swings from events and outbound to paid search and "
            "syndication, and the base rate falls (win log-odds -0.5 a year by cohort).",
            win_logit_drift_per_year=-0.5,
            source_mix_start=(0.20, 0.06, 0.08, 0.14, 0.04, 0.22, 0.22, 0.04),
            source_mix_end=(0.18, 0.28, 0.08, 0.08, 0.26, 0.08, 0.02, 0.02),
        ),
        _variant(
            "seasonal",
            "Seasonality: the opportunity hazard swings +-60 % over the year, highest in late "
            "December, lowest in late June (the cut-off).",
            hazard_season_amplitude=0.6,
            hazard_season_peak_day=20_447.0,  # 2025-12-25
        ),
        _variant(
            "sparse",
            "Sparse activity: every rate x0.2, a handful of events per lead.",
            emission_rates=scaled_rates(DEFAULT_EMISSION_RATES, 0.2),
        ),
        _variant(
            "custom_crm",
            "Another CRM: 12 more custom fields (4 informative, 8 useless) and activity names "
            "outside any built-in vocabulary ('Book a Meeting', 'Talk to an Expert', ...).",
            custom_fields=12,
            emission_rates=renamed_rates(DEFAULT_EMISSION_RATES, OTHER_CRM_NAMES),
            hand_raises=(OTHER_CRM_NAMES["demo_request"], OTHER_CRM_NAMES["contact_sales"]),
        ),
        _variant("small", "A small company: the default dynamics with 5,000 leads.", 5_000),
    )
}


def world_config(name: str, n_leads: int | None = None, seed: int | None = None) -> DemoConfig:
    """The configuration of world `name`, optionally with another size or seed."""
    try:
        config = WORLDS[name].config
    except KeyError:
        raise ValueError(f"no demo world {name!r}; worlds: {', '.join(WORLDS)}") from None
    if n_leads is not None:
        config = replace(config, n_leads=n_leads)
    if seed is not None:
        config = replace(config, seed=seed)
    return config

"""The latent dynamics of a demo world: states, emission rates, transitions, hazard, sales cycle.

Everything here is a parameter of the truth: the simulation (`demo.journeys.simulate_journeys`)
and the exact posterior (`demo.journeys.filter_won_probability`) read the same `WorldParams`,
so a variant of the world (`demo.variants`) changes both at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from features.contract import utc_naive

DAY = 86_400  # seconds; every time in the world is a whole number of seconds since the epoch
YEAR_DAYS = 365.25

STATES = ("irrelevant", "cold", "warm", "hot")
IRRELEVANT, COLD, WARM, HOT = range(4)

EmissionRates = tuple[tuple[str, tuple[float, float, float, float]], ...]

# Daily Poisson rate per latent state (irrelevant, cold, warm, hot), per activity type.
DEFAULT_EMISSION_RATES: EmissionRates = (
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
HAND_RAISES = ("demo_request", "contact_sales")

# Source mix at the start and at the end of the history (linear drift in between), in the
# order of `demo.attributes.SOURCES`.
SOURCE_MIX_START = (0.22, 0.10, 0.08, 0.12, 0.07, 0.19, 0.18, 0.04)
SOURCE_MIX_END = (0.21, 0.19, 0.08, 0.11, 0.16, 0.15, 0.06, 0.04)


def scaled_rates(rates: EmissionRates, factor: float) -> EmissionRates:
    """The same emission table with every rate multiplied by `factor` (sparser or busier)."""
    return tuple((name, tuple(r * factor for r in row)) for name, row in rates)  # type: ignore[misc]


def renamed_rates(rates: EmissionRates, names: dict[str, str]) -> EmissionRates:
    """The same emission table with activity types renamed (another CRM's vocabulary)."""
    return tuple((names.get(name, name), row) for name, row in rates)


@dataclass(frozen=True)
class WorldParams:
    """The latent dynamics: emission rates, daily transitions, opportunity hazard, sales cycle."""

    emission_rates: EmissionRates = DEFAULT_EMISSION_RATES
    # The activity types that are hand-raises in this world's own names.
    hand_raises: tuple[str, ...] = HAND_RAISES
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
    # Scale of every attribute effect (day-0 state logits and win logit): above 1 conversion is
    # driven by fit, below 1 by behaviour.
    fit_effect_scale: float = 1.0
    # Daily probability that a hot lead opens an opportunity.
    opportunity_hazard: float = 0.25
    # Seasonality of the hazard by calendar day: x (1 + amplitude cos(2 pi (t - peak) / year)),
    # with t and peak in days since 1970-01-01.
    hazard_season_amplitude: float = 0.0
    hazard_season_peak_day: float = 0.0
    # Sales cycle D in days: P(D = d) ~ (d - min + 1) exp(-(d - min) / scale) on [min, max].
    sales_cycle_min_days: int = 7
    sales_cycle_max_days: int = 75
    sales_cycle_scale_days: float = 10.0
    # Day-0 logits of (irrelevant, warm, hot) against cold, before attribute effects.
    initial_logit_base: tuple[float, float, float] = (-1.8, -0.9, -2.9)
    win_logit_base: float = -0.9
    # Base-rate drift by lead cohort: the win logit moves by this much per year of creation time
    # (days since 1970-01-01 minus `drift_reference_day`).
    win_logit_drift_per_year: float = 0.0
    drift_reference_day: float = 20_634.0  # 2026-06-30
    source_mix_start: tuple[float, ...] = SOURCE_MIX_START
    source_mix_end: tuple[float, ...] = SOURCE_MIX_END
    # Custom CRM fields beyond the default two (`demo.attributes.CUSTOM_FIELDS`, in order).
    custom_fields: int = 0

    def __post_init__(self) -> None:
        if self.sales_cycle_min_days < 1 or self.sales_cycle_max_days < self.sales_cycle_min_days:
            raise ValueError("sales cycle needs 1 <= min_days <= max_days")
        if not 0.0 < self.opportunity_hazard < 1.0:
            raise ValueError("opportunity_hazard must be in (0, 1)")
        peak = self.opportunity_hazard * (1 + abs(self.hazard_season_amplitude))
        if not 0.0 <= self.hazard_season_amplitude < 1.0 or peak >= 1.0:
            raise ValueError("the seasonal hazard must stay in (0, 1)")

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

    def hazard_at(self, day_start: np.ndarray | Sequence[int]) -> np.ndarray:
        """Opportunity hazard of the lead-days starting at `day_start` (seconds since epoch)."""
        start = np.asarray(day_start, dtype=np.int64)
        if self.hazard_season_amplitude == 0.0:
            return np.full(start.shape, self.opportunity_hazard)
        t = start / DAY - self.hazard_season_peak_day
        season = 1.0 + self.hazard_season_amplitude * np.cos(2 * np.pi * t / YEAR_DAYS)
        return np.asarray(self.opportunity_hazard * season)

    def win_logit_drift(self, created: np.ndarray) -> np.ndarray:
        """Shift of the win logit of leads created at `created` (seconds since the epoch)."""
        years = (np.asarray(created, dtype=float) / DAY - self.drift_reference_day) / YEAR_DAYS
        return self.win_logit_drift_per_year * years

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
    """What demo world to generate: size, seed, cut-off, horizon, time windows and dynamics."""

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

    def random_stream(self) -> np.random.Generator:
        """The generator every draw of this world comes from.

        At the default cut-off it is seeded by `seed` alone. Another cut-off gets draws of its
        own: the demo simulates a CRM as a whole, not lead by lead, so the same draws at a later
        cut-off would be the same leads (attributes, journeys, outcomes) moved later in time, a
        twin in a later export of every lead a model trained on the earlier one has seen. A
        later export is therefore a new draw of the same buyer process: no lead in common.
        """
        if self.as_of == DEFAULT_AS_OF:
            return np.random.default_rng(self.seed)
        return np.random.default_rng([self.seed, self.as_of_seconds])

    @property
    def as_of_seconds(self) -> int:
        """The cut-off in seconds since the epoch."""
        return int(self.as_of.value // 1_000_000_000)

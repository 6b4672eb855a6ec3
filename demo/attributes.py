"""Observed lead attributes of the demo world and their effects on the hidden journey.

Levels not listed in an effect table have no effect; `MISSING` is the level of an empty field
(an empty CRM field often says something). The effect tables are read by
`demo.covariates.lead_covariates`; the level lists and mixes by `demo.leads`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

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
# The source mix over time is a world parameter (`WorldParams.source_mix_start` / `_end`).
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
class CustomField:
    """A custom CRM field: its levels, how often each is set, and what it says about the lead.

    `initial_effects` move the day-0 logits of (warm, hot) against cold, `win_effects` the win
    logit; a field with neither is noise a model has to learn to ignore.
    """

    name: str
    levels: tuple[str, ...]
    weights: tuple[float, ...]
    missing_share: float
    initial_effects: Mapping[str, tuple[float, float]]
    win_effects: Mapping[str, float]

    @property
    def informative(self) -> bool:
        return bool(self.initial_effects or self.win_effects)


# Custom fields beyond annual_revenue_band and lead_form_score, for worlds with many of them
# (`WorldParams.custom_fields` takes the first n): four informative, eight useless.
CUSTOM_FIELDS: tuple[CustomField, ...] = (
    CustomField(
        "budget_status",
        ("approved", "planned", "none", "unknown"),
        (0.12, 0.25, 0.28, 0.35),
        0.30,
        {"approved": (0.3, 0.9), "planned": (0.2, 0.3), "none": (-0.2, -0.6)},
        {"approved": 0.4, "planned": 0.1, "none": -0.3},
    ),
    CustomField("lead_owner", ("ana", "ben", "chen", "dara", "eli", "fay", "gus"), (1,) * 7,
                0.05, {}, {}),
    CustomField(
        "crm_in_use",
        ("salesforce", "hubspot", "dynamics", "pipedrive", "spreadsheets"),
        (0.30, 0.25, 0.10, 0.10, 0.25),
        0.40,
        {"salesforce": (0.1, 0.2), "hubspot": (0.2, 0.3), "spreadsheets": (-0.1, -0.3)},
        {"salesforce": 0.3, "hubspot": 0.2, "dynamics": 0.1, "spreadsheets": -0.4},
    ),
    CustomField("form_variant", ("a", "b", "c"), (1, 1, 1), 0.20, {}, {}),
    CustomField("preferred_language", ("en", "de", "fr", "es", "pt"),
                (0.55, 0.15, 0.1, 0.12, 0.08), 0.10, {}, {}),
    CustomField(
        "buying_role",
        ("decision_maker", "influencer", "end_user"),
        (0.25, 0.35, 0.40),
        0.25,
        {"decision_maker": (0.1, 0.3), "end_user": (0.0, -0.2)},
        {"decision_maker": 0.35, "influencer": 0.1, "end_user": -0.25},
    ),
    CustomField("utm_medium", ("cpc", "email", "social", "display", "none"),
                (0.3, 0.2, 0.2, 0.1, 0.2), 0.15, {}, {}),
    CustomField("newsletter_opt_in", ("yes", "no"), (0.6, 0.4), 0.05, {}, {}),
    CustomField(
        "intent_level",
        ("high", "medium", "low"),
        (0.15, 0.35, 0.50),
        0.35,
        {"high": (0.4, 0.7), "medium": (0.2, 0.2), "low": (-0.2, -0.4)},
        {},
    ),
    CustomField("timezone", ("utc-8", "utc-5", "utc+0", "utc+1", "utc+5:30", "utc+8"),
                (0.2, 0.25, 0.15, 0.2, 0.1, 0.1), 0.10, {}, {}),
    CustomField("record_type", ("lead", "lead_imported"), (0.8, 0.2), 0.0, {}, {}),
    CustomField("marketing_consent", ("granted", "denied"), (0.7, 0.3), 0.10, {}, {}),
)  # fmt: skip

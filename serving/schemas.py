"""The HTTP contract: pydantic models of requests, responses and errors (and so the OpenAPI).

Timestamps are RFC 3339 / ISO 8601 date-time strings; one without an offset is UTC. Anything
that is not exactly what the contract says is rejected with the lead index and field named.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from features.instants import utc_naive_datetime
from models.registry import CHAMPION, DEFAULT_MODEL_NAME
from serving.config import MAX_ACTIVITIES_PER_LEAD, MAX_LEADS_PER_REQUEST

# A CRM date before 1970 or after 2199 is a typo or a placeholder (0001-01-01, 1900-01-01),
# not a date to compute lead ages from. The window is also what keeps day counts exact: the
# featurizer subtracts int64 nanoseconds, which overflow beyond 292 years (a 1905 created_at
# scored as of 2199 came out as "created today").
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2200, 1, 1)
MAX_TEXT = 1_000
# The largest employers have about 2.3 million employees; more is a typo or a probe.
MAX_COMPANY_SIZE = 10_000_000
# Fields per lead (custom CRM fields included), and the length of custom fields' names.
MAX_FIELDS = 100
MAX_EXTRA_NAME = 100
# Text as a CRM stores it: no NUL or other control characters (tab and line breaks allowed in
# text, none in ids and types). They reach logs and the prediction log otherwise.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
NAME = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


_NAME = re.compile(NAME)


# A timestamp as written, offset kept. The range applies to the date as written (pydantic
# compares the written fields with the naive bounds, in Rust), like the pattern says.
Moment = Annotated[
    datetime,
    Strict(),
    Field(
        ge=EARLIEST,
        lt=LATEST,
        description=(
            "RFC 3339 date-time between 1970 and 2199, e.g. 2026-06-01T09:30:00Z; "
            "no offset means UTC."
        ),
        examples=["2026-06-01T09:30:00Z"],
        json_schema_extra={"pattern": "^(19[7-9][0-9]|20[0-9]{2}|21[0-9]{2})-"},
    ),
]
# Lead-level timestamps, converted to tz-naive UTC as they are validated. Activities keep the
# offset as written: a Python validator per activity cost more than validating the rest of a
# request (docs/benchmarks.md), so the engine converts their instants in its own pass.
Timestamp = Annotated[Moment, AfterValidator(utc_naive_datetime)]
Text = Annotated[StrictStr, Field(max_length=MAX_TEXT, pattern=PRINTABLE)]
FiniteNumber = Annotated[float, Strict(), Field(allow_inf_nan=False)]
# Values of extra lead attributes (custom CRM fields): scalars only, text as long as other
# text, integers that fit 64 bits (numbers beyond the training range score as its edge).
ExtraValue = (
    Text | StrictBool | Annotated[StrictInt, Field(ge=-(2**63), lt=2**63)] | FiniteNumber | None
)


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a lead_id is a string or an integer, not a boolean")
    return value


# An integer id may come as 17 or 17.0 (JSON does not tell them apart); 17.5 is refused.
LeadId = (
    Annotated[StrictStr, Field(min_length=1, max_length=256, pattern=NAME)]
    | Annotated[int, Field(ge=-(2**63), lt=2**63), BeforeValidator(_not_bool)]
)


@with_config(ConfigDict(extra="ignore"))
class Activity(TypedDict):
    """Something the lead did, e.g. a page view or a demo request."""

    # A TypedDict, not a model: thousands arrive per request, and validating into plain dicts
    # costs a fifth less than building model instances. The type is stripped when read
    # (`ActivityColumns`): pydantic would strip before checking the length the schema states.
    activity_type: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=200,
            pattern=NAME,
            description="CRM activity type; types the model has not seen count as 'other'.",
            examples=["demo_request"],
        ),
    ]
    occurred_at: Annotated[
        Moment, Field(description="When it happened. At or after as_of: not used, warned.")
    ]
    detail: NotRequired[
        Annotated[
            Text | None, Field(description="Free text (page, campaign); not used for scoring.")
        ]
    ]


EXAMPLE_LEAD: dict[str, Any] = {
    "lead_id": "L0000002",
    "created_at": "2026-03-06T13:17:51Z",
    "source": "webinar",
    "campaign": "2026 Q1 Webinar - Scoring That Sales Trusts",
    "country": "US",
    "industry": "software",
    "company_size": 2932,
    "job_title": "VP of Engineering",
    "email_domain": "riverai.com",
    "annual_revenue_band": "1B+",
    "activities": [
        {"activity_type": "pricing_page_view", "occurred_at": "2026-06-20T10:02:00Z"},
        {"activity_type": "demo_request", "occurred_at": "2026-06-25T16:31:00Z"},
    ],
}


class Lead(BaseModel):
    """A lead as in the data contract's `leads` table, with its activities nested.

    Extra attributes (custom CRM fields) are allowed as strings, numbers, booleans or null:
    at most 100 fields per lead in all (MAX_FIELDS), named in at most 100 characters.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [EXAMPLE_LEAD],
            # Custom fields: printable names of at most MAX_EXTRA_NAME characters; at most
            # MAX_FIELDS fields in all.
            "propertyNames": {"minLength": 1, "maxLength": MAX_EXTRA_NAME, "pattern": NAME},
            "maxProperties": MAX_FIELDS,
        },
    )
    __pydantic_extra__: dict[str, ExtraValue] = Field(init=False)

    lead_id: LeadId = Field(
        description="The CRM's id of the lead (unique within a request); answered as a string.",
        examples=["L0000002"],
    )
    created_at: Annotated[Timestamp, Field(description="When the lead was created.")]
    as_of: Annotated[
        Timestamp | None,
        Field(description="Score this lead as of this time instead of the request's as_of."),
    ] = None
    source: Text | None = Field(default=None, examples=["webinar"], description="Lead source.")
    campaign: Text | None = Field(default=None, description="Campaign the lead came from.")
    country: Text | None = Field(default=None, examples=["US"], description="Country code.")
    industry: Text | None = Field(default=None, examples=["software"], description="Industry.")
    company_size: Annotated[FiniteNumber, Field(ge=0, le=MAX_COMPANY_SIZE)] | None = Field(
        default=None,
        examples=[250],
        description=f"Employees of the lead's company, 0 to {MAX_COMPANY_SIZE:,}.",
    )
    job_title: Text | None = Field(
        default=None, examples=["VP of Engineering"], description="Job title as typed."
    )
    email_domain: Text | None = Field(
        default=None, examples=["riverai.com"], description="Domain of the lead's e-mail."
    )
    activities: list[Activity] = Field(
        default_factory=list,
        max_length=MAX_ACTIVITIES_PER_LEAD,
        description=f"The lead's activities, at most {MAX_ACTIVITIES_PER_LEAD:,}.",
    )

    @model_validator(mode="after")
    def _few_custom_fields(self) -> Lead:
        extra = self.__pydantic_extra__
        if extra:
            given = len(self.model_fields_set)
            if given > MAX_FIELDS:
                raise ValueError(
                    f"{given} fields (custom ones included); at most {MAX_FIELDS} are accepted"
                )
            for name in extra:
                if len(name) > MAX_EXTRA_NAME or not _NAME.match(name):
                    raise ValueError(
                        f"custom field name {name[:40]!r}: 1 to {MAX_EXTRA_NAME} printable "
                        "characters"
                    )
        return self


class ScoreRequest(BaseModel):
    """Leads to score, as of one instant."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"leads": [EXAMPLE_LEAD], "as_of": "2026-06-30T00:00:00Z"}]
        },
    )

    leads: list[Lead] = Field(
        min_length=1,
        max_length=MAX_LEADS_PER_REQUEST,
        description=f"1 to {MAX_LEADS_PER_REQUEST:,} leads with distinct lead_id.",
    )
    as_of: Annotated[
        Timestamp | None, Field(description="Score as of this time; default: now (UTC).")
    ] = None
    explain: StrictBool = Field(
        default=True,
        description="Compute fit/engagement scores and reasons; false is faster (routing only).",
    )


class Reasons(BaseModel):
    positive: list[str] = Field(
        description="What raises the score most, in words.",
        examples=[["Requested a demo 5 days ago", "Company of 1,000-4,999 employees"]],
    )
    negative: list[str] = Field(
        description="What lowers it most.", examples=[["Free-mail address"]]
    )


class LeadScore(BaseModel):
    lead_id: str = Field(description="The request's lead_id, as a string.")
    as_of: str = Field(description="The instant (UTC) the lead was scored as of.")
    probability: float = Field(
        ge=0, le=1, description="Calibrated probability of closing won within the horizon."
    )
    percentile: float = Field(
        ge=0, le=100, description="Where the probability sits among the training population."
    )
    tier: Literal["SQL", "MQL", "nurture"] = Field(
        description="SQL: call now; MQL: keep nurturing in marketing; nurture: not yet."
    )
    fit_score: float | None = Field(
        ge=0, le=100, description="Firmographic fit, 0-100 percentile (null when explain=false)."
    )
    engagement_score: float | None = Field(
        ge=0, le=100, description="Behaviour, 0-100 percentile (null when explain=false)."
    )
    reasons: Reasons | None = Field(description="Top reasons (null when explain=false).")


class ActivityWarning(BaseModel):
    lead_index: int = Field(description="Index of the lead in the request.")
    lead_id: str
    activity_index: int = Field(description="Index of the activity in the lead's activities.")
    message: str


class ModelRef(BaseModel):
    name: str = Field(description="Registered model name.", examples=[DEFAULT_MODEL_NAME])
    version: str = Field(description="Registered model version.", examples=["3"])
    alias: str | None = Field(description="Alias it was loaded by.", examples=[CHAMPION])
    policy_version: str = Field(description="Version of the tier policy.", examples=["1"])


class ScoreResponse(BaseModel):
    as_of: str = Field(description="The request's as_of (UTC) the leads were scored at.")
    model: ModelRef
    scores: list[LeadScore] = Field(description="One per lead, in the request's order.")
    warnings: list[ActivityWarning] = Field(
        description="Activities at or after as_of: not used for the score."
    )


class Problem(BaseModel):
    location: str = Field(description="Where, e.g. leads[3].company_size.")
    lead_index: int | None = Field(description="Index of the lead, when it is about one.")
    field: str | None = Field(description="Field within the lead (or the request).")
    message: str


class ErrorResponse(BaseModel):
    error: str = Field(
        description="Kind of error.",
        examples=["invalid_request", "unauthorized", "body_too_large"],
    )
    message: str
    problems: list[Problem] = Field(default_factory=list)


class FeatureDescription(BaseModel):
    name: str
    group: str = Field(description="fit (attributes) or engagement (behaviour).")
    description: str


class ModelInfo(BaseModel):
    name: str
    version: str
    alias: str | None
    uri: str = Field(description="The URI the service was started with.")
    run_id: str | None
    training: dict[str, Any] = Field(
        description="Training window: cut-off, horizon, cohort boundaries (from the MLflow run)."
    )
    holdout_metrics: dict[str, float] = Field(description="LightGBM metrics on the holdout.")
    features: list[FeatureDescription]
    tier_policy: dict[str, Any]

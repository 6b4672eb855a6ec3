"""A request's leads checked and their scores written out: the work around the model.

`check_leads` refuses impossible leads (a duplicate lead_id, created after its as_of) and lists
activities that are not used or look wrong; `render_scores` serialises the answer once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from pydantic_core import to_json

from serving.engine import ActivityColumns, EngineScores, utc_micros
from serving.errors import invalid_request, lead_problem
from serving.schemas import Lead

AT_OR_AFTER_AS_OF = "activity at or after as_of: not used"
# An activity this long before its lead was created is probably a wrong date (a year typed
# as 1926 for 2026); it is scored as sent, with a warning.
LONG_BEFORE_CREATED_DAYS = 365
LONG_BEFORE_CREATED = (
    f"activity more than {LONG_BEFORE_CREATED_DAYS} days before created_at: check its date"
)
_LONG_BEFORE_MICROS = LONG_BEFORE_CREATED_DAYS * 86_400 * 1_000_000


def iso_utc(value: datetime) -> str:
    """A naive UTC datetime as the API writes instants (ISO 8601 with Z)."""
    return value.isoformat() + "Z"


def check_leads(
    leads: Sequence[Lead], default_as_of: datetime
) -> tuple[list[datetime], list[dict[str, Any]], ActivityColumns]:
    """Each lead's as_of, warnings for activities not used, and the activities column-wise.

    Raises on impossible leads (a duplicate lead_id, created after its as_of).
    """
    problems = []
    seen: dict[str, int] = {}
    as_of: list[datetime] = []
    for i, lead in enumerate(leads):
        first = seen.setdefault(str(lead.lead_id), i)
        if first != i:
            problems.append(lead_problem(i, "lead_id", f"duplicate of leads[{first}].lead_id"))
        when = lead.as_of or default_as_of
        if lead.created_at > when:
            problems.append(lead_problem(i, "created_at", f"after as_of {iso_utc(when)}"))
        as_of.append(when)
    if problems:
        raise invalid_request(problems)
    activities = ActivityColumns.of(leads)
    warnings: list[dict[str, Any]] = []
    if not activities.size:
        return as_of, warnings, activities
    late = activities.micros >= utc_micros(as_of)[activities.owner]
    created = utc_micros([lead.created_at for lead in leads])
    early = activities.micros < created[activities.owner] - _LONG_BEFORE_MICROS
    odd = np.flatnonzero(late | early)
    if odd.size:
        position = activities.index_in_lead()
        for k in odd.tolist():
            i = int(activities.owner[k])
            warnings.append(
                {
                    "lead_index": i,
                    "lead_id": str(leads[i].lead_id),
                    "activity_index": int(position[k]),
                    "message": AT_OR_AFTER_AS_OF if late[k] else LONG_BEFORE_CREATED,
                }
            )
    return as_of, warnings, activities


def _finite_or_none(column: np.ndarray) -> bool:
    """Every value finite; an object column (a sub-score a single-table model does not have)
    may hold None, answered as null."""
    if column.dtype.kind in "fiu":
        return bool(np.isfinite(column).all())
    return all(v is None or math.isfinite(v) for v in column.tolist())


def render_scores(
    leads: Sequence[Lead],
    as_of: Sequence[datetime],
    request_as_of: datetime,
    scores: EngineScores,
    explain: bool,
    model_ref: dict[str, Any],
    warnings: list[dict[str, Any]],
) -> bytes:
    numbers = [scores.probability, scores.percentile]
    if explain:
        numbers += [scores.fit_score, scores.engagement_score]
    # JSON has no NaN or infinity: a score that is not a number is a fault, never an answer.
    if not all(_finite_or_none(column) for column in numbers):
        raise ValueError("a score is not a finite number")
    probability = scores.probability.tolist()
    percentile = scores.percentile.tolist()
    tier = scores.tier.tolist()
    stamps: dict[datetime, str] = {}
    items: list[dict[str, Any]] = []
    if explain:
        fit = scores.fit_score.tolist()
        engagement = scores.engagement_score.tolist()
    for i, lead in enumerate(leads):
        when = as_of[i]
        stamp = stamps.get(when) or stamps.setdefault(when, iso_utc(when))
        item: dict[str, Any] = {
            "lead_id": str(lead.lead_id),
            "as_of": stamp,
            "probability": probability[i],
            "percentile": percentile[i],
            "tier": tier[i],
        }
        if explain:
            item["fit_score"] = fit[i]
            item["engagement_score"] = engagement[i]
            item["reasons"] = {
                "positive": scores.reasons_positive[i],
                "negative": scores.reasons_negative[i],
            }
        else:
            item["fit_score"] = item["engagement_score"] = item["reasons"] = None
        items.append(item)
    payload = {
        "as_of": iso_utc(request_as_of),
        "model": model_ref,
        "scores": items,
        "warnings": warnings,
    }
    # pydantic-core's serialiser (Rust) writes the same JSON 3x faster than the json module.
    return to_json(payload)

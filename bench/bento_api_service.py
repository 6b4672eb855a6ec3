"""The `@bentoml.api` variant of POST /score, for `make bench-serve` to measure beside the
mounted Starlette app (issue 10, item 6): is the app's own body reader, error layer and
OpenAPI builder worth its code?

Same model folder (LEADSCORE_MODEL_DIR, prepared by the benchmark), same engine and
micro-batcher (`serving.state.build_state`), same lead checks and response fields; BentoML
parses the typed pydantic input and serialises the typed output. Tracing, the access log and
metrics are off, as in `serving.service`. Not a product entry point: no token, no prediction
log, no policy refresh (the mounted app is measured without them too), and its errors are
BentoML's (the valid requests of the benchmark never meet them).
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from typing import Annotated

import bentoml
from pydantic import Field

from models.settings import load_settings
from serving.config import MAX_LEADS_PER_REQUEST, ServingConfig
from serving.schemas import Lead, LeadScore, ModelRef, Reasons, ScoreResponse, Timestamp


@bentoml.service(
    name="leadscore-typed-api",
    workers=load_settings().workers,
    traffic={"timeout": 60},
    metrics={"enabled": False},
    logging={"access": {"enabled": False}},
    # As serving.service: with excluded_urls the OpenTelemetry middleware skips the route.
    tracing={"sample_rate": 0.0, "excluded_urls": ["/score"]},
)
class LeadScoringTyped:
    def __init__(self) -> None:
        from serving.model_source import load_model_dir
        from serving.state import build_state

        config = ServingConfig.from_env()
        if config.model_dir is None:
            raise RuntimeError("set LEADSCORE_MODEL_DIR to a prepared model folder")
        self.state = build_state(load_model_dir(config.model_dir), config)
        # The collector settings of serving.service, so that only the HTTP layer differs.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

    @bentoml.api(route="/score")
    async def score(
        self,
        leads: Annotated[list[Lead], Field(min_length=1, max_length=MAX_LEADS_PER_REQUEST)],
        as_of: Timestamp | None = None,
        explain: bool = True,
    ) -> ScoreResponse:
        from serving.lead_checks import check_leads, iso_utc

        state = self.state
        request_as_of = as_of or datetime.now(UTC).replace(tzinfo=None)
        lead_as_of, warnings, activities = check_leads(leads, request_as_of)
        scores = await state.batcher.score(leads, lead_as_of, explain, activities)
        probability = scores.probability.tolist()
        percentile = scores.percentile.tolist()
        tier = scores.tier.tolist()
        fit = scores.fit_score.tolist() if explain else None
        engagement = scores.engagement_score.tolist() if explain else None
        items = [
            LeadScore(
                lead_id=str(lead.lead_id),
                as_of=iso_utc(lead_as_of[i]),
                probability=probability[i],
                percentile=percentile[i],
                tier=tier[i],
                fit_score=fit[i] if fit is not None else None,
                engagement_score=engagement[i] if engagement is not None else None,
                reasons=Reasons(
                    positive=scores.reasons_positive[i], negative=scores.reasons_negative[i]
                )
                if explain
                else None,
            )
            for i, lead in enumerate(leads)
        ]
        return ScoreResponse(
            as_of=iso_utc(request_as_of),
            model=ModelRef(**state.model_ref),
            scores=items,
            warnings=warnings,  # type: ignore[arg-type]
        )

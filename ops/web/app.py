"""`leadscore ui`: the marketing-ops web app (Starlette, server-side templates, htmx).

A process apart from the scoring service: it reads the same MLflow registry, tier policies and
prediction log, and its only writes are tier policies (save + apply, or apply an earlier one),
through ops.thresholds and ops.policy_store as the CLI does. The running service picks an
applied policy up as it always does (PolicyWatcher or POST /reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mlflow.exceptions import MlflowException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ops.closed_loop_run import ClosedLoopError
from ops.policy_store import PolicyNotFound
from ops.thresholds import calibrate_thresholds
from ops.web.access import (
    CSRF_FIELD,
    FAILED_SIGN_IN_DELAY_S,
    SESSION_COOKIE,
    AccessMiddleware,
    Session,
    Sessions,
    require_csrf,
    safe_next,
    set_session_cookie,
    token_matches,
)
from ops.web.formatting import FILTERS
from ops.web.loop_view import (
    LoopCache,
    drift_rows,
    predictions_source_label,
    realised_by_week,
)
from ops.web.model_view import metric_rows, model_columns
from ops.web.registry import Registry
from ops.web.settings import UiSettings
from ops.web.threshold_view import (
    TARGET_ORDER,
    TargetError,
    controls,
    targets_from_form,
    threshold_view,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
NAME_LIMIT = 80
REASON_MIN = 5


def create_app(settings: UiSettings) -> Starlette:
    """The app; MLflow is pointed at `settings.tracking` here, once."""
    settings.tracking.activate()
    registry = Registry(settings.tracking.model_name)
    sessions = Sessions()
    loops = LoopCache()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(FILTERS)
    templates.env.globals.update(csrf_field=CSRF_FIELD, settings=settings)

    flashes: dict[str, dict[str, str]] = {}  # CSRF token of a session -> its next message

    def session_of(request: Request) -> Session:
        return request.scope["state"]["session"]

    def flash(session: Session, kind: str, text: str) -> None:
        flashes[session.csrf_token] = {"kind": kind, "text": text[:600]}

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        context = {"session": request.scope.get("state", {}).get("session"), **context}
        response = templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["cache-control"] = "no-store"
        return response

    # ------------------------------------------------------------------ sign-in

    async def sign_in_form(request: Request) -> Response:
        if not settings.signs_in:
            return RedirectResponse("/", status_code=303)
        return render(
            request, "sign_in.html", {"next": safe_next(request.query_params.get("next"))}
        )

    async def sign_in(request: Request) -> Response:
        if not settings.signs_in:
            return RedirectResponse("/", status_code=303)
        form = await request.form()
        name = str(form.get("name", "")).strip()[:NAME_LIMIT]
        token = str(form.get("token", ""))
        target = safe_next(str(form.get("next", "/")))
        if not name or not token_matches(token, settings.api_token or ""):
            log.warning("failed sign-in from %s", request.client.host if request.client else "?")
            await asyncio.sleep(FAILED_SIGN_IN_DELAY_S)
            return render(
                request,
                "sign_in.html",
                {"next": target, "error": "That name and token do not sign you in.", "name": name},
                status=401,
            )
        old = request.cookies.get(SESSION_COOKIE)
        sessions.close(old)
        session_id, _ = sessions.open(name, signed_in=True)
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, session_id, settings)
        return response

    async def sign_out(request: Request) -> Response:
        form = await request.form()
        try:
            require_csrf(request, str(form.get(CSRF_FIELD, "")))
        except PermissionError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        sessions.close(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/sign-in" if settings.signs_in else "/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ thresholds

    def threshold_context(params: dict[str, str]) -> dict[str, Any]:
        versions = registry.versions()
        if not versions:
            return {"versions": [], "problem": "no_model"}
        try:
            version = registry.resolve(params.get("version"))
        except MlflowException:
            return {
                "versions": versions,
                "problem": "no_version",
                "wanted": params.get("version") or "@champion",
            }
        facts = registry.facts(version)
        data = registry.evaluation(facts)
        context: dict[str, Any] = {
            "versions": versions,
            "version": version,
            "facts": facts,
            "data": data,
            "history": registry.policy_history(version),
            "next_policy": registry.store.next_version(version),
        }
        try:
            targets = targets_from_form(params)
        except TargetError as exc:
            context |= {"controls": controls(data, {}), "target_error": str(exc), "view": None}
            return context
        recent = (
            loops.recent_scores(settings.predictions, registry.model_name, version)
            if settings.predictions
            else None
        )
        view = threshold_view(data, targets, facts.current, recent)
        context |= {
            "controls": controls(data, targets.given()),
            "view": view,
            "charts_json": json.dumps(view.charts),
            "recent": recent is not None and len(recent) > 0,
            "closest_links": {
                name: _with(params, {name: f"{value:g}", f"use_{name}": "on"})
                for name, value in view.closest.items()
            },
        }
        return context

    async def thresholds_page(request: Request) -> Response:
        params = dict(request.query_params)
        context = await run_in_threadpool(threshold_context, params)
        context["message"] = flashes.pop(session_of(request).csrf_token, None)
        return render(request, "thresholds.html", context)

    async def thresholds_preview(request: Request) -> Response:
        params = dict(request.query_params)
        context = await run_in_threadpool(threshold_context, params)
        return render(request, "_threshold_preview.html", context)

    async def apply_policy(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            session = require_csrf(request, form.get(CSRF_FIELD))
        except PermissionError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        reason = form.get("reason", "").strip()
        version = form.get("version", "")
        back = {k: v for k, v in form.items() if k in _target_keys() or k == "version"}
        if len(reason) < REASON_MIN:
            flash(session, "error", "Say why in a few words: the reason is kept with the policy.")
            return RedirectResponse(f"/thresholds?{urlencode(back)}#apply", status_code=303)
        try:
            targets = targets_from_form(form)
            if not targets.given():
                raise TargetError("tick at least one target to record a policy")
            result = await run_in_threadpool(
                calibrate_thresholds,
                registry.uri(registry.resolve(version)),
                targets,
                reason=reason,
                author=session.user,
                save=True,
                apply=True,
                client=registry.client,
            )
        except (TargetError, ValueError, MlflowException) as exc:
            flash(session, "error", f"Not applied: {exc}")
            return RedirectResponse(f"/thresholds?{urlencode(back)}#apply", status_code=303)
        log.info(
            "%s applied tier policy %s to version %s", session.user, result.saved_version, version
        )
        flash(
            session,
            "done",
            f"Policy {result.saved_version} recorded and applied to version {version}.",
        )
        return RedirectResponse(f"/thresholds?{urlencode(back)}#history", status_code=303)

    async def rollback_policy(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            session = require_csrf(request, form.get(CSRF_FIELD))
        except PermissionError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        version, policy_version = form.get("version", ""), form.get("policy_version", "")
        back = {"version": version}
        try:
            await run_in_threadpool(
                registry.store.apply, registry.resolve(version), policy_version, session.user
            )
        except (PolicyNotFound, MlflowException, ValueError) as exc:
            flash(session, "error", f"Not applied: {exc}")
        else:
            flash(
                session, "done", f"Policy {policy_version} is served with version {version} again."
            )
        return RedirectResponse(f"/thresholds?{urlencode(back)}#history", status_code=303)

    # ------------------------------------------------------------------ closed loop, model

    async def closed_loop_page(request: Request) -> Response:
        return render(
            request,
            "closed_loop.html",
            {
                "predictions": settings.predictions,
                "predictions_label": predictions_source_label(settings.predictions or ""),
                "later_export": settings.later_export,
            },
        )

    async def closed_loop_content(request: Request) -> Response:
        if not settings.predictions or settings.later_export is None:
            return render(request, "_closed_loop_missing.html", {})
        session = session_of(request)
        try:
            page = await run_in_threadpool(
                loops.page, settings.predictions, settings.later_export, session.signed_in
            )
        except (ClosedLoopError, ValueError, OSError) as exc:
            return render(request, "_problem.html", {"problem": str(exc)})
        return render(
            request,
            "_closed_loop_content.html",
            {
                "page": page,
                "result": page.joined.result,
                "drift": drift_rows(page.joined),
                "by_week": realised_by_week(page.joined.result.entries).to_dict(orient="records"),
                "charts_json": json.dumps(page.charts),
                "show_contact": session.signed_in,
            },
        )

    async def model_page(request: Request) -> Response:
        other = request.query_params.get("other") or None
        if other is not None and not other.isdigit():
            other = None
        try:
            columns = await run_in_threadpool(model_columns, registry, other)
        except MlflowException as exc:
            return render(request, "model.html", {"columns": [], "problem": str(exc)})
        return render(
            request,
            "model.html",
            {
                "columns": columns,
                "metrics": metric_rows(columns),
                "versions": await run_in_threadpool(registry.versions),
                "other": other,
            },
        )

    async def home(request: Request) -> Response:
        return RedirectResponse("/thresholds", status_code=303)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        return HTMLResponse("<h1>Not found</h1>", status_code=404)

    def warm_up() -> None:
        """What the first visits would compute (the champion's evaluation set and recent
        scores, the closed loop), so nobody waits seconds for it on a large model."""
        try:
            version = registry.resolve(None)
            registry.evaluation(registry.facts(version))
            if settings.predictions:
                loops.recent_scores(settings.predictions, registry.model_name, version)
                if settings.later_export is not None:
                    loops.page(settings.predictions, settings.later_export, settings.signs_in)
        except (MlflowException, ClosedLoopError, ValueError, OSError) as exc:
            # The page that needs it computes it again and shows the problem to its visitor.
            log.warning("start-up warm-up stopped: %s", exc)
        else:
            log.info("start-up warm-up done")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=warm_up, name="ui-warm-up", daemon=True).start()
        yield

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/sign-in", sign_in_form, methods=["GET"]),
            Route("/sign-in", sign_in, methods=["POST"]),
            Route("/sign-out", sign_out, methods=["POST"]),
            Route("/thresholds", thresholds_page),
            Route("/thresholds/preview", thresholds_preview),
            Route("/thresholds/apply", apply_policy, methods=["POST"]),
            Route("/thresholds/rollback", rollback_policy, methods=["POST"]),
            Route("/closed-loop", closed_loop_page),
            Route("/closed-loop/content", closed_loop_content),
            Route("/model", model_page),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        exception_handlers={404: not_found},
    )
    app.add_middleware(AccessMiddleware, settings=settings, sessions=sessions)
    return app


def _target_keys() -> set[str]:
    return {*TARGET_ORDER, *(f"use_{n}" for n in TARGET_ORDER)}


def _with(params: dict[str, str], changes: dict[str, str]) -> str:
    merged = {k: v for k, v in params.items() if k in _target_keys() or k == "version"}
    merged.update(changes)
    return f"/thresholds?{urlencode(merged)}"

"""Who may read and change what in the web app: sign-in, sessions, cross-site protection.

- With an access token (LEADSCORE_API_TOKEN) every page, fragment and write needs a session,
  opened by the sign-in form (the person's name, which is recorded as the author of their
  changes, and the token). Without a token the app listens on loopback only and every visitor
  is the local user; requests naming another host are refused, so a web page cannot reach the
  app through DNS rebinding.
- Sessions live in this process (a random id in an HTTP-only, SameSite=Strict cookie); a
  restart signs everyone out, which is the safe direction.
- Every write (POST) must come from the app's own pages: its Origin (or, without one, its
  Sec-Fetch-Site) must be this site, and the form must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ops.policy_store import current_author
from ops.web.settings import UiSettings, is_loopback

SESSION_COOKIE = "leadscore_ui_session"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
FAILED_SIGN_IN_DELAY_S = 1.0  # slows guessing the token down
PUBLIC_PREFIXES = ("/static/", "/sign-in", "/healthz")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Session:
    """A signed-in person (or, without a token, the local user) and their CSRF token."""

    user: str
    csrf_token: str
    signed_in: bool
    expires_at: float


class Sessions:
    """Open sessions by id, in memory; thread-safe, expired ones dropped when seen."""

    def __init__(self, lifetime_s: float = SESSION_SECONDS) -> None:
        self.lifetime_s = lifetime_s
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, user: str, signed_in: bool) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(user, secrets.token_urlsafe(32), signed_in, now + self.lifetime_s)
        with self._lock:
            if len(self._by_id) >= MAX_SESSIONS:
                # Clients that never keep cookies open one session per request: drop the
                # expired ones, then the oldest, so memory stays bounded.
                self._by_id = {k: v for k, v in self._by_id.items() if v.expires_at >= now}
                for stale in sorted(self._by_id, key=lambda k: self._by_id[k].expires_at)[
                    : len(self._by_id) - MAX_SESSIONS + 1
                ]:
                    del self._by_id[stale]
            self._by_id[session_id] = session
        return session_id, session

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._by_id.get(session_id)
            if session is not None and session.expires_at < time.time():
                del self._by_id[session_id]
                return None
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)


def token_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def same_origin(request: Request) -> bool:
    """The request comes from a page of this app (Origin, else Sec-Fetch-Site, else allow).

    Browsers send Origin with every cross-site POST; a request without Origin or fetch metadata
    comes from a non-browser client, which the CSRF token still guards.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null":
            return False
        parts = urlsplit(origin)
        return parts.netloc == request.headers.get("host", "") and parts.scheme in ("http", "https")
    site = request.headers.get("sec-fetch-site")
    return site is None or site in ("same-origin", "none")


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def set_session_cookie(response: Response, session_id: str, settings: UiSettings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )


SECURITY_HEADERS = {
    # Every script and style sheet is the app's own file: nothing inline, nothing from elsewhere.
    # Style attributes are allowed: Chart.js restores a canvas's style attribute when it
    # redraws, and an attribute cannot run code.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "style-src-attr 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


class AccessMiddleware:
    """Host check, session lookup (or the sign-in redirect), cross-site checks on writes."""

    def __init__(self, app: ASGIApp, settings: UiSettings, sessions: Sessions) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._refusal(request)
        if response is not None:
            await self._send_with_headers(response, scope, receive, send)
            return
        new_cookie: str | None = None
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None and not self.settings.signs_in:
            # Loopback without a token: whoever can reach the app is the local user.
            new_cookie, session = self.sessions.open(current_author(), signed_in=False)
        path = request.url.path
        if session is None and not path.startswith(PUBLIC_PREFIXES):
            await self._send_with_headers(self._to_sign_in(request), scope, receive, send)
            return
        scope.setdefault("state", {})["session"] = session
        if request.method not in SAFE_METHODS and not same_origin(request):
            await self._send_with_headers(
                PlainTextResponse("cross-site request refused", status_code=403),
                scope,
                receive,
                send,
            )
            return

        async def send_wrapped(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.decode().lower() for k, _ in headers}
                for key, value in SECURITY_HEADERS.items():
                    if key not in present:
                        headers.append((key.encode(), value.encode()))
                if new_cookie is not None:
                    cookie = Response()
                    set_session_cookie(cookie, new_cookie, self.settings)
                    headers += [h for h in cookie.raw_headers if h[0] == b"set-cookie"]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapped)

    def _refusal(self, request: Request) -> Response | None:
        if self.settings.signs_in:
            return None
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not is_loopback(name):
            return PlainTextResponse(
                "this app serves this machine only; open it as http://127.0.0.1", status_code=421
            )
        return None

    @staticmethod
    def _to_sign_in(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/sign-in?next={quote(target, safe='')}"
        if request.headers.get("hx-request"):
            # htmx fragments: send the whole page to the sign-in form.
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    async def _send_with_headers(
        self, response: Response, scope: Scope, receive: Receive, send: Send
    ) -> None:
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        await response(scope, receive, send)


def require_csrf(request: Request, form_token: str | None) -> Session:
    """The request's session, if the form carries its CSRF token; else PermissionError."""
    session: Session | None = request.scope.get("state", {}).get("session")
    if session is None or not form_token or not token_matches(form_token, session.csrf_token):
        raise PermissionError("the form is out of date or did not come from this app; reload it")
    return session

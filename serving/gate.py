"""The API token at the door: every route but health and readiness needs it when it is set.

The gate also keeps the Host header out of redirects (see `send_without_host`).

`ScoringAPI` checks the token on its own routes (/score, /model, /openapi.json, /reload) before
reading a body; `TokenGate` is an ASGI middleware in front of what BentoML serves besides them
(/docs.json, /schema.json, the docs page, /metrics), so a token protects the whole server. Only
/livez, /readyz and /healthz stay open: load balancers probe them without credentials.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz"})
# Routes that check the token themselves (and count refused requests in their statistics).
OWN_ROUTES = frozenset({"/score", "/model", "/openapi.json", "/reload"})
UNAUTHORIZED = (
    b'{"error":"unauthorized","message":"send the API token as '
    b'\'Authorization: Bearer <token>\'","problems":[]}'
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def token_matches(authorization: str, token: bytes) -> bool:
    """Whether an Authorization header carries `token` in the Bearer scheme (in any case, as
    RFC 7235 says of schemes), compared in constant time."""
    scheme, _, given = authorization.strip().partition(" ")
    return hmac.compare_digest(given.strip().encode(), token) and scheme.lower() == "bearer"


def send_without_host(send: Send) -> Send:
    """`send` with redirects made relative: Starlette builds their Location from the Host
    header (`POST /score/` answered "go to http://<forged host>/score")."""

    async def relative(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
            headers = []
            for name, value in message.get("headers", ()):
                if name.lower() == b"location":
                    parts = urlsplit(value.decode("latin-1"))
                    value = (parts.path or "/").encode() + (
                        b"?" + parts.query.encode() if parts.query else b""
                    )
                headers.append((name, value))
            message = {**message, "headers": headers}
        await send(message)

    return relative


class TokenGate:
    """Answers 401 to any request without the token, but on open paths and the API's own."""

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OWN_ROUTES or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        authorization = ""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        if self.token is None or token_matches(authorization, self.token):
            await self.app(scope, receive, send_without_host(send))
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(UNAUTHORIZED)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": UNAUTHORIZED})

"""What happens to a request before BentoML reads it: the token, the content type, the body's
size, and how many /score requests a worker holds.

`RequestGate` is an ASGI middleware in front of every route (`LeadScoring.add_asgi_middleware`):
- the API token: every route but health and readiness needs it when it is set (401), BentoML's
  own too (/docs.json, /schema.json, the docs page, /metrics); /livez, /readyz and /healthz
  stay open, load balancers probe them without credentials;
- POST /score and /reload: `Content-Type: application/json` or 415 (a browser posts other types
  to any address without a CORS preflight, so a web page cannot make a visitor's browser score
  or reload here); the body is read here up to its limit, 413 before anything is parsed (a
  chunked body is counted as it comes), then handed on; an empty /score body is 400;
- POST /score: at most `max_in_flight` requests per worker (beyond, 503 with Retry-After, before
  the body is read), each counted in the request statistics; after a large body the worker
  hands memory back once no request is in flight;
- redirects never carry the Host header (see `send_without_host`).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from models.memory import give_back
from serving.errors import RequestError
from serving.memory import LARGE_BODY_BYTES
from serving.stats import RequestStats

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz"})
SCORE = "/score"
RELOAD_BODY_BYTES = 64 * 1024
JSON = b"application/json"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNAUTHORIZED = RequestError(
    401, "unauthorized", "send the API token as 'Authorization: Bearer <token>'"
)


def token_matches(authorization: str, token: bytes) -> bool:
    """Whether an Authorization header carries `token` in the Bearer scheme (in any case, as
    RFC 7235 says of schemes), compared in constant time."""
    scheme, _, given = authorization.strip().partition(" ")
    return hmac.compare_digest(given.strip().encode(), token) and scheme.lower() == "bearer"


def send_without_host(send: Send) -> Send:
    """`send` with redirects made relative: Starlette builds their Location from the Host
    header (`POST /score/` answered "go to http://<forged host>/score")."""

    async def relative(message: Message) -> None:
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


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value)
    return None


async def _answer(send: Send, error: RequestError) -> None:
    body = error.body()
    headers = [
        (b"content-type", JSON),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGate:
    """The checks before parsing; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None = None,
        max_body_bytes: int = 8 * 1024 * 1024,
        max_in_flight: int = 64,
        stats: RequestStats | None = None,
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.limits = {SCORE: max_body_bytes, "/reload": RELOAD_BODY_BYTES}
        self.max_in_flight = max_in_flight
        self.stats = stats if stats is not None else RequestStats()
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["path"] == SCORE and scope["method"] == "POST":
            await self._score(scope, receive, send)
            return
        try:
            self._check_token(scope)
            receive = await self._with_body(scope, receive)
        except RequestError as error:
            await _answer(send, error)
            return
        await self.app(scope, receive, send_without_host(send))

    def _check_token(self, scope: Scope) -> None:
        if self.token is not None:
            authorization = (_header(scope, b"authorization") or b"").decode("latin-1")
            if not token_matches(authorization, self.token):
                raise UNAUTHORIZED

    async def _with_body(self, scope: Scope, receive: Receive) -> Receive:
        """`receive` handing on the body, read here when the route has a limit; raises the
        RequestError to answer instead."""
        limit = self.limits.get(scope["path"])
        if limit is None or scope["method"] != "POST":
            return receive
        content_type = _header(scope, b"content-type")
        if content_type is None or content_type.split(b";")[0].strip().lower() != JSON:
            raise RequestError(415, "unsupported_media_type", "send Content-Type: application/json")
        body = await self._read(scope, receive, limit)
        if scope["path"] == SCORE and not body.strip():
            raise RequestError(400, "invalid_json", "empty body: send a JSON object with leads")
        scope["leadscore.body_bytes"] = len(body)
        return _replay(body, receive)

    @staticmethod
    async def _read(scope: Scope, receive: Receive, limit: int) -> bytes:
        too_large = RequestError(
            413, "body_too_large", f"request body larger than {limit:,} bytes; split the leads"
        )
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _score(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        counted = False
        try:
            self._check_token(scope)
            if self.in_flight >= self.max_in_flight:
                raise RequestError(
                    503,
                    "overloaded",
                    f"this worker holds {self.max_in_flight} requests already; retry",
                    headers={"Retry-After": "1"},
                )
            self.in_flight += 1
            counted = True
            replay = await self._with_body(scope, receive)
            await self.app(scope, replay, send_without_host(noted))
        except RequestError as error:
            status = error.status
            await _answer(send, error)
        finally:
            if counted:
                self.in_flight -= 1
                if scope.get("leadscore.body_bytes", 0) >= LARGE_BODY_BYTES and not self.in_flight:
                    # Later, when this request's objects are gone.
                    asyncio.get_running_loop().call_soon(give_back)
            self.stats.record(status, time.perf_counter() - started)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands `body` on in one message, then waits for the client as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay

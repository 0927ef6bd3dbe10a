"""The collector's ASGI middleware: the body-size limit, and the key guard that refuses a write
without an active collector key, or over the key's rate limit, before its body is read.

Every request but ``OPEN_PATHS`` carries a collector key, ``Authorization: Bearer <key>``
(gamelake/keys.py). A request without an active key is refused, counted and logged (never the
key), and nothing of it is written anywhere. Each key has a token bucket: ``gamelake collect
--rate-limit`` requests per second on average, ``--burst`` at once.
"""

from __future__ import annotations

import dataclasses
import logging
import math

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gamelake.keys import KeyRing, RateLimiter

log = logging.getLogger("gamelake.collector")

# Routes a client reaches without a key: they write nothing.
OPEN_PATHS = frozenset(
    {"/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)


class BodyLimit:
    """ASGI middleware: 413 for a request whose declared Content-Length is over the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                    response = JSONResponse(
                        {"error": f"request body over {self.max_bytes} bytes"}, status_code=413
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


@dataclasses.dataclass
class Refusals:
    """Requests the key guard turned away, by reason; nothing of them was written anywhere."""

    missing_key: int = 0
    invalid_key: int = 0
    rate_limited: int = 0


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, else None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class KeyGuard:
    """ASGI middleware: a route outside OPEN_PATHS needs an active collector key and a token
    of its rate limit; else 401 or 429 before the body is read, counted and logged."""

    def __init__(self, app: ASGIApp, keys: KeyRing, limiter: RateLimiter, refusals: Refusals):
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.refusals = refusals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope["headers"])
        key = self.keys.match(token) if token else None
        if key is not None:
            wait = self.limiter.wait_s(key.key_id)
            if not wait:
                await self.app(scope, receive, send)
                return
            reason, whose = "rate_limited", f"key {key.key_id} of {key.source}"
            answer = JSONResponse(
                {"error": f"over the rate limit of {whose}; retry in {wait:.2f}s"},
                429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        else:
            reason, whose = (
                ("invalid_key", "an unknown key") if token else ("missing_key", "no key")
            )
            message = (
                "invalid or revoked collector key"
                if token
                else "missing collector key: send `Authorization: Bearer <key>` "
                "(`gamelake keys create --source NAME` makes one)"
            )
            answer = JSONResponse({"error": message}, 401, headers={"WWW-Authenticate": "Bearer"})
        setattr(self.refusals, reason, getattr(self.refusals, reason) + 1)
        client = scope.get("client") or ("?", 0)
        log.warning(
            "refused %s %s from %s with %s: %s (refused so far: %s)",
            scope["method"], scope["path"], client[0], whose, reason,
            dataclasses.asdict(self.refusals),
        )  # fmt: skip
        await answer(scope, receive, send)

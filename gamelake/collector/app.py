"""The HTTP collector: game clients POST events, valid ones land in their family's Kafka topic.

Contract API
------------
``POST /v1/events`` (or ``POST /v1/events/{family}``), ``Content-Type: application/json``.
The body is one event object or a JSON array of them. Each event names its family in a
top-level ``family`` field; on ``/v1/events/{family}`` the route's family applies to the
events that do not name one; an event naming none is the family its shape is recognised as
(the contracts' ``recognised_by``, gamelake/routing.py). Example::

    [{"family": "telemetry", "player_id": "A01", "event_type": "kill", "timestamp": 1700000000000},
     {"family": "user_score", "user_id": "u1", "team_id": "t1", "score": 7,
      "event_time_millis": 1700000000000}]

Every request but ``/health``, ``/metrics``, ``/docs`` and ``/openapi.json`` -- the event
routes and the seed 003 routes alike -- carries a collector key, ``Authorization: Bearer
<key>`` (``gamelake keys create --source NAME`` makes one; gamelake/keys.py). The key is
checked before the body is read; a request without an active key is refused, counted and
logged (never the key), and nothing of it is written anywhere. Each key has a token bucket:
``gamelake collect --rate-limit`` requests per second on average, ``--burst`` at once.

Every event is stripped of secret fields first (any key, at any depth, that the secret
policy names: conf/secrets.yaml's words such as ``pwd`` or ``token`` plus every contract's
``secret: true`` field), whether it is accepted or not, then
validated against its family's JSON Schema (derived from conf/contracts). A valid event
gets its envelope -- ``event_id`` (uuid4 hex) when missing, ``received_at`` (ISO-8601 UTC,
always set by the collector), ``source: "collector"`` when missing, ``schema_version`` from
the contract when missing, ``family`` -- and goes to the family's topic, keyed by the
contract's key field. Records are flushed once per request, and the answer is sent only after
Kafka acknowledged every record of the request (acks=all), so nothing acknowledged is lost.

Answers:

- ``401 {"error": ...}`` (with ``WWW-Authenticate: Bearer``): no key, or one that is unknown
  or revoked.
- ``429 {"error": ...}`` with ``Retry-After: <seconds>``: the key is over its rate limit.
- ``202 {"accepted": n, "rejected": 0}``: every event was valid and is in Kafka.
- ``400 {"accepted": n, "rejected": m, "errors": [{"index": i, "family": f,
  "errors": [{"path": "parameters.player_id", "message": "..."}]}]}``: some events were
  invalid. A batch is *not* all-or-nothing: the valid events of a mixed batch are accepted
  and in Kafka; ``index`` is the position of each rejected event in the request (0 for a
  single object), so the client fixes and resends exactly those. A path is dotted from the
  event's top level ("" for the event itself). An event whose record would be over Kafka's
  message size limit (conf/pipeline.yaml ``topics.max_record_bytes``) is rejected the same
  way, with reason ``too_large``; the rest of the batch still lands.
- ``400 {"error": "malformed JSON: ...", "accepted": 0, "rejected": 1}``: the body is not JSON.
- ``413 {"error": ...}``: the body is over the size limit (5 MiB by default) or holds more
  events than the per-request limit.
- ``503 {"error": ...}``: Kafka did not acknowledge the records; nothing should be assumed
  landed and the client retries (events that carry their own ``event_id`` deduplicate
  downstream; ids assigned by the collector differ between tries).

Every rejected event (secrets removed) and every malformed body (truncated, secret values
blanked) is written to the rejects topic (conf/pipeline.yaml ``topics.rejects``) with its errors, so
nothing sent with a valid key is lost: ``{"reason", "family", "index", "errors", "event" |
"raw", "received_at", "request": {"path", "user_agent"}}``; an event too large for Kafka
goes as ``raw``, the head of its JSON text (see gamelake/rejects.py).

``GET /health``: 200 ``{"status": "ok"}`` when the producer is usable, else 503.
``GET /metrics``: ``{"refused": {"missing_key", "invalid_key", "rate_limited"},
"active_keys"}``, the requests refused since start.

Records go through gamelake.producer.KafkaProducer (acks=all, idempotent), each request
waiting for its own. ``GET /openapi.json`` and ``GET /docs``: the OpenAPI document and its
browser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gamelake import game_api
from gamelake.collector import emulator
from gamelake.collector.guards import BodyLimit, KeyGuard, Refusals
from gamelake.collector.ingest import (
    DEFAULT_MAX_RECORD_BYTES,
    Collector,
    Producer,
    request_meta,
    utc_now,
)
from gamelake.contracts import Contract
from gamelake.errors import GamelakeError
from gamelake.keys import KeyRing, RateLimiter
from gamelake.rejects import RAW_KEEP_BYTES
from gamelake.secrets import SecretPolicy

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_EVENTS = 10_000


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may hold, and how much of a malformed body its rejects record keeps."""

    max_body_bytes: int
    max_events: int
    raw_reject_bytes: int


# --- response documents (OpenAPI) ------------------------------------------------------------


class FieldError(BaseModel):
    path: str
    message: str


class EventError(BaseModel):
    index: int
    family: str | None
    errors: list[FieldError]


class Accepted(BaseModel):
    accepted: int
    rejected: int = 0


class Rejected(BaseModel):
    accepted: int
    rejected: int
    errors: list[EventError] = []
    error: str | None = None


class Problem(BaseModel):
    error: str


RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": Accepted, "description": "Every event is valid and in Kafka."},
    400: {"model": Rejected, "description": "Malformed JSON, or some events rejected."},
    413: {"model": Problem, "description": "Body or batch over the limit."},
    503: {"model": Problem, "description": "Kafka did not acknowledge the records."},
}


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, max_bytes: int) -> bytes:
    # A chunked body declares no length: count while reading and stop at the limit.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _post(
    request: Request, default_family: str | None, collector: Collector, limits: Limits
) -> JSONResponse:
    """The answer to a POST of events: 202, 400 with the errors, 413 or 503."""
    meta = request_meta(request)
    try:
        body = await _read_body(request, limits.max_body_bytes)
    except _TooLarge:
        return JSONResponse({"error": f"request body over {limits.max_body_bytes} bytes"}, 413)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = f"malformed JSON: {exc}"
        try:
            await run_in_threadpool(
                collector.reject_raw, body, error, meta, limits.raw_reject_bytes
            )
        except GamelakeError as kafka_exc:
            return JSONResponse({"error": f"{error}; {kafka_exc}"}, 503)
        return JSONResponse({"error": error, "accepted": 0, "rejected": 1}, 400)
    events = parsed if isinstance(parsed, list) else [parsed]
    if len(events) > limits.max_events:
        return JSONResponse({"error": f"over {limits.max_events} events in one request"}, 413)
    try:
        # Validation and the Kafka round trip block: keep them off the event loop.
        outcome = await run_in_threadpool(collector.ingest, events, default_family, meta)
    except GamelakeError as exc:
        return JSONResponse({"error": str(exc)}, 503)
    if outcome.rejected:
        return JSONResponse(
            {
                "accepted": outcome.accepted,
                "rejected": len(outcome.rejected),
                "errors": outcome.rejected,
            },
            400,
        )
    return JSONResponse({"accepted": outcome.accepted, "rejected": 0}, 202)


def _events_openapi(families: list[str]) -> dict[str, Any]:
    event = {
        "type": "object",
        "required": ["family"],
        "properties": {"family": {"type": "string", "enum": families}},
        "additionalProperties": True,
        "description": "One event: its family's fields (see `gamelake contracts show`).",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [event, {"type": "array", "items": event}]}
                }
            },
        }
    }


def _add_event_routes(app: FastAPI, collector: Collector, limits: Limits) -> None:
    """Nothing: adds POST /v1/events and /v1/events/{family} to the app."""
    openapi = _events_openapi(sorted(collector.families))

    @app.post(
        "/v1/events",
        status_code=202,
        responses=RESPONSES,
        openapi_extra=openapi,
        summary="Send one event or a batch; each names its family",
    )
    async def post_events(request: Request) -> JSONResponse:
        return await _post(request, None, collector, limits)

    @app.post(
        "/v1/events/{family}",
        status_code=202,
        responses=RESPONSES,
        openapi_extra=openapi,
        summary="Send events of one family (an event's own `family` field wins)",
    )
    async def post_family_events(family: str, request: Request) -> JSONResponse:
        return await _post(request, family, collector, limits)


def _add_status_routes(
    app: FastAPI,
    producer: Producer,
    health_check: Callable[[], None] | None,
    refusals: Refusals,
    keys: KeyRing,
) -> None:
    """Nothing: adds the open GET /health and GET /metrics to the app."""

    @app.get("/health", responses={503: {"model": Problem}}, openapi_extra={"security": []})
    def health() -> JSONResponse:
        try:
            producer.flush()
            if health_check is not None:
                health_check()
        except GamelakeError as exc:
            return JSONResponse({"status": "unavailable", "error": str(exc)}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", openapi_extra={"security": []})
    def metrics() -> JSONResponse:
        """Requests refused for their key (401) or its rate limit (429), and the active keys."""
        return JSONResponse(
            {"refused": dataclasses.asdict(refusals), "active_keys": len(keys.active)}
        )


def create_app(
    contracts: Mapping[str, Contract],
    producer: Producer,
    topic_for: Callable[[str], str],
    rejects_topic: str,
    *,
    health_check: Callable[[], None] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_events: int = DEFAULT_MAX_EVENTS,
    raw_reject_bytes: int = RAW_KEEP_BYTES,
    clock: Callable[[], datetime] = utc_now,
    secrets: SecretPolicy | None = None,
    keys: KeyRing,
    rate_limiter: RateLimiter | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> FastAPI:
    """The collector's ASGI app over the given contracts, producer and topic names; writes need
    an active key of `keys`, within `rate_limiter`'s limit (the default one when None)."""
    collector = Collector(
        contracts, producer, topic_for, rejects_topic, clock, secrets, max_record_bytes
    )
    description = (__doc__ or "").split("Contract API", 1)[-1] + (emulator.__doc__ or "")
    app = FastAPI(title="gamelake collector", version="1", description=description)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    refusals = Refusals()
    # Added last, so it runs first: a request without a valid key is refused unread.
    app.add_middleware(
        KeyGuard, keys=keys, limiter=rate_limiter or RateLimiter(), refusals=refusals
    )
    app.state.collector = collector
    app.state.refusals = refusals
    _add_event_routes(app, collector, Limits(max_body_bytes, max_events, raw_reject_bytes))
    _add_status_routes(app, producer, health_check, refusals, keys)
    _document_keys(app)
    if game_api.FAMILY in collector.families:
        emulator.add_routes(app, collector)
    return app


def _document_keys(app: FastAPI) -> None:
    """Nothing: the app's OpenAPI document states the key every route but the open ones needs."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        doc = build()
        schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["collectorKey"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A collector key: `gamelake keys create --source NAME`.",
        }
        doc["security"] = [{"collectorKey": []}]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]

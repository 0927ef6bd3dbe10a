"""The HTTP collector: game clients POST events, valid ones land in their family's Kafka topic.

Contract API
------------
``POST /v1/events`` (or ``POST /v1/events/{family}``), ``Content-Type: application/json``.
The body is one event object or a JSON array of them. Each event names its family in a
top-level ``family`` field; on ``/v1/events/{family}`` the route's family applies to the
events that do not name one. Example::

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
blanked) is written to the rejects topic (``DEFAULT_REJECTS_TOPIC``) with its errors, so
nothing sent with a valid key is lost: ``{"reason", "family", "index", "errors", "event" |
"raw", "received_at", "request": {"path", "user_agent"}}``; an event too large for Kafka
goes as ``raw``, the head of its JSON text (see gamelake/rejects.py).

``GET /health``: 200 ``{"status": "ok"}`` when the producer is usable, else 503.
``GET /metrics``: ``{"refused": {"missing_key", "invalid_key", "rate_limited"},
"active_keys"}``, the requests refused since start.

Producers: ``ConfluentSink`` (librdkafka, the default of ``gamelake collect``) or
``KafkaPythonSink`` (pure Python, slower); both acks=all and idempotent. Validation runs the
contract's JSON Schema compiled by fastjsonschema, with jsonschema writing the error
messages of invalid events.
``GET /openapi.json`` and ``GET /docs``: the OpenAPI document and its browser.

Seed 003 compatibility front
----------------------------
The Flask game API of seed 003, form-encoded: ``POST /create/user`` (userid, userpwd,
username, wealth), ``POST /buy/sword`` and ``/buy/spell`` (userid, type, cost),
``POST /join/guild`` and ``/join/team`` (userid, org, level, cost), ``GET /data/user?userid=``.
Each call emits one game_api event with the player's state after it (wealth, health,
inventory, affiliations, created); the password is never kept nor produced. Player state is
an in-memory dict per app instance. A purchase or paid join costing more than the player's
wealth changes nothing and yields status ``insufficient_funds``. Answers are the seed's
short texts; an unknown user is a 404.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import fastjsonschema
import orjson
from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from gamelake.config import project_root
from gamelake.contracts import Contract, get_value
from gamelake.errors import GamelakeError
from gamelake.kafka_io import RecordTooLarge, is_size_error, record_bytes
from gamelake.keys import KeyRing, RateLimiter
from gamelake.rejects import RAW_KEEP_BYTES, raw_keep, raw_reject
from gamelake.secrets import SecretPolicy, declared_secrets, load_policy

log = logging.getLogger("gamelake.collector")

# Belongs in conf/pipeline.yaml (topics.rejects) once PipelineConf carries it.
DEFAULT_REJECTS_TOPIC = "gamelake._rejects"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_EVENTS = 10_000
DEFAULT_RAW_REJECT_BYTES = RAW_KEEP_BYTES
# librdkafka's own default message.max.bytes; `gamelake collect` passes conf/pipeline.yaml's.
DEFAULT_MAX_RECORD_BYTES = 1_000_000
# Routes a client reaches without a key: they write nothing.
OPEN_PATHS = frozenset(
    {"/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
MAX_ERRORS_PER_EVENT = 20
SOURCE = "collector"
COMPAT_FAMILY = "game_api"
COMPAT_START_WEALTH = 1000.0
COMPAT_START_HEALTH = 100


class Sink(Protocol):
    """Where records go: a Kafka producer in service, an in-memory list in unit tests."""

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Nothing: queues one record (the caller's next flush() answers for it)."""

    def flush(self) -> None:
        """Nothing: returns once the calling thread's records are acknowledged, else raises."""


class _Deliveries:
    """Outcomes of one thread's records, filled by delivery callbacks run in any thread."""

    def __init__(self) -> None:
        self.sent = 0
        # list.append is atomic: callbacks of one request may run in several flushing threads.
        self.results: list[Any] = []

    def delivered(self, err: Any, _msg: Any) -> None:
        self.results.append(err)


class ConfluentSink:
    """A Sink on confluent-kafka (librdkafka; acks=all, idempotent), shared by request threads.

    The collector's default: several times the throughput of kafka-python on the same cores
    (bench/results/collector.json).
    """

    def __init__(self, bootstrap_servers: str, timeout_s: float = 30.0, **producer_conf: Any):
        from confluent_kafka import KafkaException, Producer

        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            # A request waits for its records: a short linger merges concurrent requests'
            # records into batches without adding much to the answer's latency.
            "linger.ms": 2,
            # A record Kafka cannot take (missing topic, broker down) fails the request in
            # bounded time rather than after librdkafka's default five minutes.
            "message.timeout.ms": int(timeout_s * 1000),
            "client.id": "gamelake-collector",
            **producer_conf,
        }
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        try:
            self._producer = Producer(conf)
        except KafkaException as exc:
            raise GamelakeError(f"bad Kafka producer settings: {exc}") from exc
        self._local = threading.local()
        self._closed = False

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Nothing: queues one record; this thread's next flush() awaits its acknowledgement."""
        from confluent_kafka import KafkaException

        if self._closed:
            raise GamelakeError("the collector's Kafka producer is closed")
        deliveries = self._deliveries()
        try:
            try:
                self._producer.produce(topic, value, key, on_delivery=deliveries.delivered)
            except BufferError:
                # The local queue is full: let librdkafka drain it once, then insist.
                self._producer.poll(1.0)
                self._producer.produce(topic, value, key, on_delivery=deliveries.delivered)
        except (BufferError, KafkaException) as exc:
            if is_size_error(exc):
                raise RecordTooLarge(f"{topic}: {exc.args[0]}") from exc
            raise GamelakeError(
                f"Kafka producer refused a record for {topic}: {exc}",
                fix="check `gamelake status` and the broker log",
            ) from exc
        deliveries.sent += 1

    def flush(self) -> None:
        """Nothing: returns once Kafka acknowledged this thread's records, else raises."""
        deliveries = self._deliveries()
        self._local.deliveries = _Deliveries()
        if self._closed:
            raise GamelakeError("the collector's Kafka producer is closed")
        if not deliveries.sent:
            return
        # Not Producer.flush(): under concurrent requests the queue is never empty, so a
        # global flush would wait for other requests' records too. Wait for this thread's
        # reports only; any thread's poll serves them.
        deadline = time.monotonic() + self.timeout_s
        while len(deliveries.results) < deliveries.sent and time.monotonic() < deadline:
            self._producer.poll(0.005)
        failures = [str(err) for err in deliveries.results if err is not None]
        if failures or len(deliveries.results) < deliveries.sent:
            raise GamelakeError(
                f"Kafka acknowledged {len(deliveries.results) - len(failures)} of "
                f"{deliveries.sent} records" + (f": {failures[0]}" if failures else " in time"),
                fix="check `gamelake status`, the broker log and `gamelake topics list`",
            )

    def check(self) -> None:
        """Nothing: raises GamelakeError unless the broker answers a metadata request."""
        from confluent_kafka import KafkaException

        if self._closed:
            raise GamelakeError("the collector's Kafka producer is closed")
        try:
            self._producer.list_topics(timeout=2.0)
        except KafkaException as exc:
            raise GamelakeError(
                f"no Kafka broker answers at {self.bootstrap_servers}: {exc}",
                fix="run `gamelake up`",
            ) from exc

    def close(self) -> None:
        """Nothing: sends what is queued, then stops accepting records."""
        self._closed = True
        self._producer.flush(self.timeout_s)

    def _deliveries(self) -> _Deliveries:
        if getattr(self._local, "deliveries", None) is None:
            self._local.deliveries = _Deliveries()
        return self._local.deliveries


class KafkaPythonSink:
    """A Sink on a kafka-python producer (acks=all, idempotent), shared by request threads.

    Pure Python, so it runs anywhere kafka-python does, at a few thousand records/s.
    """

    def __init__(self, bootstrap_servers: str, timeout_s: float = 30.0, **producer_conf: Any):
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        conf: dict[str, Any] = {
            "acks": "all",
            "enable_idempotence": True,
            # Requests flush explicitly; a short linger only merges concurrent requests.
            "linger_ms": 5,
            "batch_size": 256 * 1024,
            # A missing topic must fail the request quickly, not hang it for a minute.
            "max_block_ms": 10_000,
            "client_id": "gamelake-collector",
            **producer_conf,
        }
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        try:
            self._producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **conf)
        except (KafkaError, OSError) as exc:
            raise GamelakeError(
                f"cannot reach Kafka at {bootstrap_servers}: {exc}", fix="run `gamelake up`"
            ) from exc
        # Each request runs in one worker thread: its own futures are what it waits for.
        self._pending = threading.local()
        self._closed = False

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Nothing: queues one record; this thread's next flush() awaits its acknowledgement."""
        from kafka.errors import KafkaError

        if self._closed:
            raise GamelakeError("the collector's Kafka producer is closed")
        try:
            future = self._producer.send(topic, value=value, key=key)
        except KafkaError as exc:
            if is_size_error(exc):
                raise RecordTooLarge(f"{topic}: {exc}") from exc
            raise GamelakeError(
                f"Kafka refused a record for {topic}: {exc}",
                fix="check `gamelake status` and that the topic exists (`gamelake topics list`)",
            ) from exc
        self._futures().append(future)

    def flush(self) -> None:
        """Nothing: returns once Kafka acknowledged this thread's records, else raises."""
        from kafka.errors import KafkaError

        futures = self._futures()
        self._pending.futures = []
        if self._closed:
            raise GamelakeError("the collector's Kafka producer is closed")
        if not futures:
            return
        try:
            self._producer.flush(timeout=self.timeout_s)
            for future in futures:
                future.get(timeout=self.timeout_s)
        except KafkaError as exc:
            raise GamelakeError(
                f"Kafka did not acknowledge {len(futures)} records: {exc}",
                fix="check `gamelake status` and the broker log",
            ) from exc

    def check(self) -> None:
        """Nothing: raises GamelakeError unless a bootstrap broker accepts a TCP connection."""
        if self._closed:
            raise GamelakeError("the collector's Kafka producer is closed")
        for server in self.bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host, int(port)), timeout=2):
                    return
            except OSError:
                continue
        raise GamelakeError(
            f"no Kafka broker answers at {self.bootstrap_servers}", fix="run `gamelake up`"
        )

    def close(self) -> None:
        """Nothing: sends what is queued, then releases the producer."""
        self._closed = True
        self._producer.close(timeout=self.timeout_s)

    def _futures(self) -> list[Any]:
        if not hasattr(self._pending, "futures"):
            self._pending.futures = []
        return self._pending.futures


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


# --- the pure part: validation, redaction, envelopes ------------------------------------------


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 text of a UTC time with microseconds and a Z suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error_path(error: Any) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        # Point at the missing field itself, not at the object lacking it.
        for name in error.validator_value:
            if name not in error.instance and error.message.startswith(repr(name)):
                parts.append(name)
                break
    return ".".join(parts)


@dataclasses.dataclass(frozen=True)
class Family:
    contract: Contract
    topic: str
    validator: Draft202012Validator
    # The same JSON Schema compiled to Python: it decides the common, valid case 30x faster
    # than jsonschema, which stays the reference and writes the error messages.
    fast_check: Callable[[Any], Any]

    @classmethod
    def build(cls, contract: Contract, topic: str) -> Family:
        """A family's topic and its validators, compiled once."""
        schema = contract.json_schema()
        return cls(contract, topic, Draft202012Validator(schema), fastjsonschema.compile(schema))

    def errors(self, event: dict[str, Any]) -> list[dict[str, str]]:
        """[{path, message}] for every contract violation of the event, empty when valid."""
        try:
            self.fast_check(event)
            return []
        except fastjsonschema.JsonSchemaException:
            pass
        found = sorted(self.validator.iter_errors(event), key=_error_path)
        return [{"path": _error_path(e), "message": e.message} for e in found][
            :MAX_ERRORS_PER_EVENT
        ]


@dataclasses.dataclass
class Outcome:
    accepted: int = 0
    rejected: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class Collector:
    """Validates, enriches and routes events to the sink; the HTTP layer stays thin."""

    def __init__(
        self,
        contracts: Mapping[str, Contract],
        sink: Sink,
        topic_for: Callable[[str], str],
        rejects_topic: str,
        clock: Callable[[], datetime],
        secrets: SecretPolicy | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ):
        self.families = {name: Family.build(c, topic_for(name)) for name, c in contracts.items()}
        # Secrets go by policy whatever the family says, so a mislabelled event cannot leak one.
        self.secrets = secrets or load_policy(project_root() / "conf", declared_secrets(contracts))
        self.sink = sink
        self.rejects_topic = rejects_topic
        self.clock = clock
        self.max_record_bytes = max_record_bytes

    def ingest(
        self, events: list[Any], default_family: str | None, request: dict[str, Any]
    ) -> Outcome:
        """Counts and per-event errors of a batch, after producing and flushing every record."""
        received_at = iso_utc(self.clock())
        outcome = Outcome()
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                self.reject(
                    outcome, index, None, "not_an_object",
                    [{"path": "", "message": "an event must be a JSON object"}],
                    event, received_at, request,
                )  # fmt: skip
                continue
            self.secrets.strip(event)
            name = event.get("family", default_family)
            family = self.families.get(name) if isinstance(name, str) else None
            if family is None:
                message = (
                    "missing family: set the event's `family` field or POST /v1/events/{family}"
                    if name is None
                    else f"unknown family {name!r}; one of: {', '.join(sorted(self.families))}"
                )
                self.reject(
                    outcome, index, name if isinstance(name, str) else None, "unknown_family",
                    [{"path": "family", "message": message}], event, received_at, request,
                )  # fmt: skip
                continue
            errors = family.errors(event)
            if errors:
                self.reject(
                    outcome, index, name, "contract_violation", errors, event, received_at,
                    request,
                )  # fmt: skip
                continue
            errors = self.accept(family, event, received_at)
            if errors:
                self.reject(outcome, index, name, "too_large", errors, event, received_at, request)
                continue
            outcome.accepted += 1
        self.sink.flush()
        return outcome

    def reject_raw(self, body: bytes, error: str, request: dict[str, Any], limit: int) -> None:
        """Nothing: writes an unparseable body (truncated, secrets blanked) to the rejects topic."""
        errors = [{"path": "", "message": error}]
        record = raw_reject(
            "malformed_json", errors, body, raw_keep(self.max_record_bytes, limit),
            self.secrets.redact_text,
            iso_utc(self.clock()), request=request,
        )  # fmt: skip
        self.sink.send(self.rejects_topic, None, record)
        self.sink.flush()

    def enrich(self, family: Family, event: dict[str, Any], received_at: str) -> dict[str, Any]:
        """The event with its envelope fields set (the client's own ids and source kept)."""
        if event.get("event_id") is None:
            event["event_id"] = uuid.uuid4().hex
        if event.get("source") is None:
            event["source"] = SOURCE
        if event.get("schema_version") is None:
            event["schema_version"] = family.contract.schema_version
        event["family"] = family.contract.family
        event["received_at"] = received_at
        return event

    def accept(
        self, family: Family, event: dict[str, Any], received_at: str
    ) -> list[dict[str, str]]:
        """[] once the enriched event is queued to its family's topic under the contract's key;
        its error when it is over Kafka's message size limit (then nothing is queued)."""
        self.enrich(family, event, received_at)
        key = get_value(event, family.contract.key)
        key_bytes = None if key is None else str(key).encode()
        value = _dumps(event)
        size = record_bytes(key_bytes, value)
        try:
            if size <= self.max_record_bytes:
                self.sink.send(family.topic, key_bytes, value)
                return []
        except RecordTooLarge:
            pass
        message = (
            f"event of {size:,} bytes is over Kafka's message limit of {self.max_record_bytes:,}"
        )
        return [{"path": "", "message": message}]

    def reject(
        self,
        outcome: Outcome,
        index: int,
        family: str | None,
        reason: str,
        errors: list[dict[str, str]],
        event: Any,
        received_at: str,
        request: dict[str, Any],
    ) -> None:
        """Nothing: records the event's errors in the outcome and queues it to the rejects topic."""
        outcome.rejected.append({"index": index, "family": family, "errors": errors})
        key = family.encode() if family else None
        record = _dumps({
            "reason": reason, "family": family, "index": index, "errors": errors,
            "event": event, "received_at": received_at, "request": request,
        })  # fmt: skip
        if record_bytes(key, record) <= self.max_record_bytes:
            try:
                self.sink.send(self.rejects_topic, key, record)
                return
            except RecordTooLarge:
                pass
        # An event too large for Kafka goes as the head of its JSON text instead.
        record = raw_reject(
            reason, errors, _dumps(event), raw_keep(self.max_record_bytes),
            self.secrets.redact_text, received_at, family=family, index=index, request=request,
        )  # fmt: skip
        self.sink.send(self.rejects_topic, key, record)


def _dumps(record: Any) -> bytes:
    return orjson.dumps(record)


# --- the HTTP layer ---------------------------------------------------------------------------


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


class _TooLarge(Exception):
    pass


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


def _request_meta(request: Request) -> dict[str, Any]:
    return {"path": request.url.path, "user_agent": request.headers.get("user-agent")}


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


def create_app(
    contracts: Mapping[str, Contract],
    producer: Sink,
    topic_for: Callable[[str], str],
    rejects_topic: str = DEFAULT_REJECTS_TOPIC,
    *,
    health_check: Callable[[], None] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_events: int = DEFAULT_MAX_EVENTS,
    raw_reject_bytes: int = DEFAULT_RAW_REJECT_BYTES,
    clock: Callable[[], datetime] = utc_now,
    secrets: SecretPolicy | None = None,
    keys: KeyRing,
    rate_limiter: RateLimiter | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> FastAPI:
    """The collector's ASGI app over the given contracts, sink and topic names; writes need
    an active key of `keys`, within `rate_limiter`'s limit (the default one when None)."""
    collector = Collector(
        contracts, producer, topic_for, rejects_topic, clock, secrets, max_record_bytes
    )
    app = FastAPI(
        title="gamelake collector",
        version="1",
        description=(__doc__ or "").split("Contract API", 1)[-1],
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    refusals = Refusals()
    # Added last, so it runs first: a request without a valid key is refused unread.
    app.add_middleware(
        KeyGuard, keys=keys, limiter=rate_limiter or RateLimiter(), refusals=refusals
    )
    app.state.collector = collector
    app.state.refusals = refusals
    families = sorted(contracts)

    async def post(request: Request, default_family: str | None) -> JSONResponse:
        meta = _request_meta(request)
        try:
            body = await _read_body(request, max_body_bytes)
        except _TooLarge:
            return JSONResponse({"error": f"request body over {max_body_bytes} bytes"}, 413)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            error = f"malformed JSON: {exc}"
            try:
                await run_in_threadpool(collector.reject_raw, body, error, meta, raw_reject_bytes)
            except GamelakeError as kafka_exc:
                return JSONResponse({"error": f"{error}; {kafka_exc}"}, 503)
            return JSONResponse({"error": error, "accepted": 0, "rejected": 1}, 400)
        events = parsed if isinstance(parsed, list) else [parsed]
        if len(events) > max_events:
            return JSONResponse({"error": f"over {max_events} events in one request"}, 413)
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

    responses: dict[int | str, dict[str, Any]] = {
        202: {"model": Accepted, "description": "Every event is valid and in Kafka."},
        400: {"model": Rejected, "description": "Malformed JSON, or some events rejected."},
        413: {"model": Problem, "description": "Body or batch over the limit."},
        503: {"model": Problem, "description": "Kafka did not acknowledge the records."},
    }

    @app.post(
        "/v1/events",
        status_code=202,
        responses=responses,
        openapi_extra=_events_openapi(families),
        summary="Send one event or a batch; each names its family",
    )
    async def post_events(request: Request) -> JSONResponse:
        return await post(request, None)

    @app.post(
        "/v1/events/{family}",
        status_code=202,
        responses=responses,
        openapi_extra=_events_openapi(families),
        summary="Send events of one family (an event's own `family` field wins)",
    )
    async def post_family_events(family: str, request: Request) -> JSONResponse:
        return await post(request, family)

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

    _document_keys(app)
    if COMPAT_FAMILY in collector.families:
        _add_compat_routes(app, collector)
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


# --- seed 003 compatibility front -------------------------------------------------------------


def _micros(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclasses.dataclass
class Player:
    user_id: str
    user_name: str
    wealth: float
    created: str
    health: int = COMPAT_START_HEALTH
    inventory: list[Any] = dataclasses.field(default_factory=list)
    affiliations: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """The contract's `player` struct: the state after the call."""
        return {
            "wealth": self.wealth,
            "health": self.health,
            "created": self.created,
            "inventory": list(self.inventory),
            "affiliations": [dict(a) for a in self.affiliations],
        }


def _add_compat_routes(app: FastAPI, collector: Collector) -> None:
    family = collector.families[COMPAT_FAMILY]
    players: dict[str, Player] = {}
    # One lock for state and produce: a player's wealth never races between two purchases.
    lock = threading.Lock()

    def emit(
        request: Request, fields: dict[str, Any], player: Player | None
    ) -> JSONResponse | None:
        """Produces one game_api event; an error answer when it is invalid or Kafka fails."""
        now = collector.clock()
        event: dict[str, Any] = {
            "timestamp": _micros(now),
            **fields,
            "request": {
                "method": request.method,
                "path": request.url.path,
                "host": request.headers.get("host"),
                "accept": request.headers.get("accept"),
                "user_agent": request.headers.get("user-agent"),
            },
        }
        if player is not None:
            event["player"] = player.snapshot()
        errors, reason = family.errors(event), "contract_violation"
        try:
            if not errors:
                errors, reason = collector.accept(family, event, iso_utc(now)), "too_large"
            if errors:
                collector.reject(
                    Outcome(), 0, COMPAT_FAMILY, reason, errors, event, iso_utc(now),
                    _request_meta(request),
                )  # fmt: skip
                collector.sink.flush()
                return JSONResponse(
                    {"accepted": 0, "rejected": 1,
                     "errors": [{"index": 0, "family": COMPAT_FAMILY, "errors": errors}]},
                    400,
                )  # fmt: skip
            collector.sink.flush()
        except GamelakeError as exc:
            return JSONResponse({"error": str(exc)}, 503)
        return None

    def unknown(user_id: str) -> PlainTextResponse:
        return PlainTextResponse(f"Unknown user {user_id} :(", 404)

    @app.post("/create/user", tags=["seed 003"], response_class=PlainTextResponse)
    def create_user(
        request: Request,
        userid: str = Form(...),
        username: str = Form(...),
        userpwd: str = Form("", description="Accepted for compatibility; never stored."),
        wealth: float = Form(COMPAT_START_WEALTH, ge=0),
    ) -> Any:
        del userpwd  # a secret: never kept, never produced
        with lock:
            if userid in players:
                fields = {"event_type": "register", "user_id": userid, "status": "denied"}
                return emit(request, fields, players[userid]) or PlainTextResponse(
                    "User exists :(", 409
                )
            player = Player(userid, username, wealth, _micros(collector.clock()))
            fields = {"event_type": "register", "user_id": userid, "user_name": username,
                      "status": "created"}  # fmt: skip
            failed = emit(request, fields, player)
            if failed:
                return failed
            players[userid] = player
        return PlainTextResponse("Created user +:)")

    def buy(request: Request, event_type: str, userid: str, item: str, cost: float) -> Any:
        label = "Sword" if event_type == "buy_sword" else "Spell"
        with lock:
            player = players.get(userid)
            if player is None:
                return unknown(userid)
            after = dataclasses.replace(player, inventory=list(player.inventory))
            funded = cost <= player.wealth
            if funded:
                after.wealth = player.wealth - cost
                after.inventory.append(item)
            fields = {
                "event_type": event_type, "user_id": userid, "user_name": player.user_name,
                "status": "approved_purchase" if funded else "insufficient_funds",
                "type": item, "cost": cost,
            }  # fmt: skip
            failed = emit(request, fields, after)
            if failed:
                return failed
            players[userid] = after
        if not funded:
            return PlainTextResponse("You do not have sufficient funds [:(")
        return PlainTextResponse(f"{label} purchased {'[' if label == 'Sword' else '<'}:)")

    def join(
        request: Request, event_type: str, userid: str, org: str, level: str, cost: float
    ) -> Any:
        with lock:
            player = players.get(userid)
            if player is None:
                return unknown(userid)
            after = dataclasses.replace(player, affiliations=list(player.affiliations))
            funded = cost <= player.wealth
            if funded:
                after.wealth = player.wealth - cost
                after.affiliations.append(
                    {"org": org, "level": level, "joined_ts": _micros(collector.clock())}
                )
            fields = {
                "event_type": event_type, "user_id": userid, "user_name": player.user_name,
                "status": "joined" if funded else "insufficient_funds",
                "org": org, "level": level, "cost": cost,
            }  # fmt: skip
            failed = emit(request, fields, after)
            if failed:
                return failed
            players[userid] = after
        if not funded:
            return PlainTextResponse("You do not have sufficient funds [:(")
        return PlainTextResponse(f"Joined #{event_type.removeprefix('join_')}")

    @app.post("/buy/sword", tags=["seed 003"], response_class=PlainTextResponse)
    def buy_sword(
        request: Request, userid: str = Form(...), type: str = Form(...), cost: float = Form(ge=0)
    ) -> Any:
        return buy(request, "buy_sword", userid, type, cost)

    @app.post("/buy/spell", tags=["seed 003"], response_class=PlainTextResponse)
    def buy_spell(
        request: Request, userid: str = Form(...), type: str = Form(...), cost: float = Form(ge=0)
    ) -> Any:
        return buy(request, "buy_spell", userid, type, cost)

    @app.post("/join/guild", tags=["seed 003"], response_class=PlainTextResponse)
    def join_guild(
        request: Request,
        userid: str = Form(...),
        org: str = Form(...),
        level: str = Form(""),
        cost: float = Form(0.0, ge=0),
    ) -> Any:
        return join(request, "join_guild", userid, org, level, cost)

    @app.post("/join/team", tags=["seed 003"], response_class=PlainTextResponse)
    def join_team(
        request: Request,
        userid: str = Form(...),
        org: str = Form(...),
        level: str = Form(""),
        cost: float = Form(0.0, ge=0),
    ) -> Any:
        return join(request, "join_team", userid, org, level, cost)

    @app.get("/data/user", tags=["seed 003"])
    def data_user(request: Request, userid: str = Query(...)) -> Any:
        with lock:
            player = players.get(userid)
            if player is None:
                return unknown(userid)
            fields = {"event_type": "view_profile", "user_id": userid,
                      "user_name": player.user_name, "status": "viewed"}  # fmt: skip
            failed = emit(request, fields, player)
            if failed:
                return failed
        return JSONResponse({"user_id": userid, "user_name": player.user_name, **player.snapshot()})

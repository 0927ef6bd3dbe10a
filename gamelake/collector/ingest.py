"""The collector's logic without HTTP: each event validated against its family's contract,
given its envelope and queued to its family's topic, or queued to the rejects topic with its
errors; secrets stripped first, whatever happens to the event.

An event names its family in its `family` field, else the route's family applies, else the
family its shape is recognised as (gamelake/routing.py). Validation runs the contract's JSON
Schema compiled by fastjsonschema, with jsonschema writing the error messages of invalid
events.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator
from starlette.requests import Request

from gamelake.config import project_root
from gamelake.contracts import Contract, get_value
from gamelake.producer import RecordTooLarge, record_bytes
from gamelake.rejects import iso_utc, raw_keep, raw_reject
from gamelake.routing import recognisers, route
from gamelake.secrets import SecretPolicy, declared_secrets, load_policy

# librdkafka's own default message.max.bytes; `gamelake collect` passes conf/pipeline.yaml's.
DEFAULT_MAX_RECORD_BYTES = 1_000_000
MAX_ERRORS_PER_EVENT = 20
SOURCE = "collector"


class Producer(Protocol):
    """Where the collector's records go: gamelake.producer.KafkaProducer in service, an
    in-memory list in unit tests."""

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Nothing: queues one record (the caller's next flush() answers for it)."""

    def flush(self) -> None:
        """Nothing: returns once the calling thread's records are acknowledged, else raises."""


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def request_meta(request: Request) -> dict[str, Any]:
    """What a rejects record says of the request that brought the event."""
    return {"path": request.url.path, "user_agent": request.headers.get("user-agent")}


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
    """Validates, enriches and routes events to the producer; the HTTP layer stays thin."""

    def __init__(
        self,
        contracts: Mapping[str, Contract],
        producer: Producer,
        topic_for: Callable[[str], str],
        rejects_topic: str,
        clock: Callable[[], datetime],
        secrets: SecretPolicy | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ):
        self.families = {name: Family.build(c, topic_for(name)) for name, c in contracts.items()}
        # Secrets go by policy whatever the family says, so a mislabelled event cannot leak one.
        self.secrets = secrets or load_policy(project_root() / "conf", declared_secrets(contracts))
        self.producer = producer
        self.recognisers = recognisers(contracts)
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
            if name is None:
                name = route(event, self.recognisers)
            family = self.families.get(name) if isinstance(name, str) else None
            if family is None:
                message = (
                    "missing family: set the event's `family` field or POST /v1/events/{family}"
                    " (no contract recognises the event's shape)"
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
        self.producer.flush()
        return outcome

    def reject_raw(self, body: bytes, error: str, request: dict[str, Any], limit: int) -> None:
        """Nothing: writes an unparseable body (truncated, secrets blanked) to the rejects topic."""
        errors = [{"path": "", "message": error}]
        record = raw_reject(
            "malformed_json", errors, body, raw_keep(self.max_record_bytes, limit),
            self.secrets.redact_text,
            iso_utc(self.clock()), request=request,
        )  # fmt: skip
        self.producer.send(self.rejects_topic, None, record)
        self.producer.flush()

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
                self.producer.send(family.topic, key_bytes, value)
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
                self.producer.send(self.rejects_topic, key, record)
                return
            except RecordTooLarge:
                pass
        # An event too large for Kafka goes as the head of its JSON text instead.
        record = raw_reject(
            reason, errors, _dumps(event), raw_keep(self.max_record_bytes),
            self.secrets.redact_text, received_at, family=family, index=index, request=request,
        )  # fmt: skip
        self.producer.send(self.rejects_topic, key, record)


def _dumps(record: Any) -> bytes:
    return orjson.dumps(record)

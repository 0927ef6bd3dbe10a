"""The collector against the real broker: accepted events and rejects land in Kafka, secrets never."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gamelake import kafka_io
from gamelake.collector import DEFAULT_REJECTS_TOPIC, ConfluentSink, KafkaPythonSink, create_app
from gamelake.contracts import load_contracts
from gamelake.pipeline import load_pipeline_conf
from tests.collector_samples import EVENTS, KEYS, event

pytestmark = pytest.mark.integration

SINKS = {"confluent": ConfluentSink, "kafka-python": KafkaPythonSink}


@pytest.fixture(scope="module")
def pipeline(services):
    conf = load_pipeline_conf(services.paths.conf)
    contracts = load_contracts(services.paths.conf / "contracts")
    topics = [conf.topic_for(f) for f in contracts] + [DEFAULT_REJECTS_TOPIC]
    kafka_io.create_topics(
        services.kafka.bootstrap_servers, topics, conf.topic_partitions, conf.topic_retention_hours
    )
    return conf, contracts, topics


@pytest.fixture(params=sorted(SINKS))
def collector(request, services, pipeline) -> Iterator[TestClient]:
    conf, contracts, _ = pipeline
    sink = SINKS[request.param](services.kafka.bootstrap_servers)
    app = create_app(
        contracts, sink, conf.topic_for, DEFAULT_REJECTS_TOPIC, health_check=sink.check
    )
    try:
        yield TestClient(app)
    finally:
        sink.close()


class TopicReader:
    """Records appended to some topics after it was made (other writers' records included)."""

    def __init__(self, bootstrap: str, topics: list[str]):
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(self.consumer.partitions_for_topic(t) or ())
        ]
        self.consumer.assign(partitions)
        for tp, offset in self.consumer.end_offsets(partitions).items():
            self.consumer.seek(tp, offset)
        self.records: list[Any] = []

    def read_until(self, done, timeout_s: float = 30.0) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while not done(self.records) and time.monotonic() < deadline:
            for batch in self.consumer.poll(timeout_ms=500).values():
                self.records.extend(batch)
        return self.records

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def reader(services, pipeline) -> Iterator[TopicReader]:
    reader = TopicReader(services.kafka.bootstrap_servers, pipeline[2])
    yield reader
    reader.close()


def ids_in(records: list[Any]) -> dict[str, Any]:
    """Records by the event_id they carry (a reject's event included)."""
    found = {}
    for r in records:
        value = json.loads(r.value)
        inner = value.get("event", value) if r.topic == DEFAULT_REJECTS_TOPIC else value
        if isinstance(inner, dict) and isinstance(inner.get("event_id"), str):
            found[inner["event_id"]] = (r, value)
    return found


def test_a_valid_batch_lands_in_the_family_topics(collector, reader, pipeline):
    conf = pipeline[0]
    run = uuid.uuid4().hex
    secret = f"pw-{run}"
    batch = [event(f, event_id=f"{run}-{f}") for f in EVENTS]
    batch[list(EVENTS).index("game_api")]["password"] = secret
    response = collector.post("/v1/events", json=batch)
    assert response.status_code == 202, response.json()
    assert response.json() == {"accepted": len(EVENTS), "rejected": 0}

    wanted = {f"{run}-{f}" for f in EVENTS}
    records = reader.read_until(lambda rs: wanted <= set(ids_in(rs)))
    found = ids_in(records)
    assert wanted <= set(found)
    for family in EVENTS:
        record, value = found[f"{run}-{family}"]
        assert record.topic == conf.topic_for(family)
        assert record.key == KEYS[family]
        assert value["source"] == "collector" and value["family"] == family and value["received_at"]
    assert all(secret.encode() not in (r.value or b"") for r in records)
    assert collector.get("/health").json() == {"status": "ok"}


def test_an_invalid_batch_is_answered_400_and_kept_in_the_rejects_topic(
    collector, reader, pipeline
):
    conf = pipeline[0]
    run = uuid.uuid4().hex
    secret = f"pw-{run}"
    batch = [
        event("telemetry", event_id=f"{run}-ok"),
        event("telemetry", event_id=f"{run}-bad-type", event_type="dance"),
        event("game_api", event_id=f"{run}-bad-api", status="bogus", password=secret),
    ]
    response = collector.post("/v1/events", json=batch)
    assert response.status_code == 400
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [(e["index"], e["family"]) for e in body["errors"]] == [
        (1, "telemetry"),
        (2, "game_api"),
    ]
    assert body["errors"][1]["errors"][0]["path"] == "status"

    malformed = (
        b'{"family": "game_api", "run": "'
        + run.encode()
        + b'", "password": "'
        + secret.encode()
        + b'"'
    )
    assert collector.post("/v1/events", content=malformed).status_code == 400

    wanted = {f"{run}-ok", f"{run}-bad-type", f"{run}-bad-api"}

    def complete(rs: list[Any]) -> bool:
        return wanted <= set(ids_in(rs)) and any(
            run.encode() in r.value and b"malformed_json" in r.value for r in rs
        )

    records = reader.read_until(complete)
    found = ids_in(records)
    assert found[f"{run}-ok"][0].topic == conf.topic_for("telemetry")
    for event_id, family in ((f"{run}-bad-type", "telemetry"), (f"{run}-bad-api", "game_api")):
        record, value = found[event_id]
        assert record.topic == DEFAULT_REJECTS_TOPIC
        assert (
            value["reason"] == "contract_violation"
            and value["family"] == family
            and value["errors"]
        )
        assert "password" not in value["event"]
    (raw,) = [
        json.loads(r.value)
        for r in records
        if r.topic == DEFAULT_REJECTS_TOPIC
        and run.encode() in r.value
        and b"malformed_json" in r.value
    ]
    assert '"password": "[redacted]"' in raw["raw"]
    # No password of this run reached Kafka, in any record of any topic read.
    assert all(secret.encode() not in (r.value or b"") for r in records)


def test_the_seed_003_front_produces_game_api_events_without_the_password(
    collector, reader, pipeline
):
    conf = pipeline[0]
    run = uuid.uuid4().hex
    secret = f"pw-{run}"
    user = f"user-{run}"
    assert (
        collector.post(
            "/create/user",
            data={"userid": user, "userpwd": secret, "username": "dirk", "wealth": "100"},
        ).status_code
        == 200
    )
    assert collector.post(
        "/buy/sword", data={"userid": user, "type": "longsword", "cost": "1000"}
    ).text.startswith("You do not")

    def mine(rs: list[Any]) -> list[dict[str, Any]]:
        return [
            json.loads(r.value)
            for r in rs
            if r.key == user.encode() and r.topic == conf.topic_for("game_api")
        ]

    records = reader.read_until(lambda rs: len(mine(rs)) >= 2)
    assert [(e["event_type"], e["status"]) for e in mine(records)] == [
        ("register", "created"),
        ("buy_sword", "insufficient_funds"),
    ]
    assert all(secret.encode() not in (r.value or b"") for r in records)

"""The collector against the real broker: accepted events and rejects land in Kafka, secrets never.

Every test writes to topics of its own (a unique prefix), deleted afterwards: the samples never
reach the family topics a `gamelake run` or `demo` reads into the lake."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gamelake import kafka_io
from gamelake.collector.app import create_app
from gamelake.contracts import load_contracts
from gamelake.conventions import load_pipeline_conf
from gamelake.keys import RateLimiter
from gamelake.producer import REQUEST_SETTINGS, KafkaProducer
from tests.collector_samples import EVENTS, KEYS, event, key_ring

pytestmark = pytest.mark.integration

# The topics of this module's shared collector.
PREFIX = f"gamelake.test_{uuid.uuid4().hex[:10]}."
REJECTS_TOPIC = PREFIX + "_rejects"


def topic_for(family: str) -> str:
    return PREFIX + family


def collector_producer(bootstrap: str, **options) -> KafkaProducer:
    """A producer as `gamelake collect` makes it."""
    return KafkaProducer(bootstrap, "gamelake-collector", REQUEST_SETTINGS, **options)


@pytest.fixture(scope="module")
def pipeline(services):
    conf = load_pipeline_conf(services.paths.conf)
    contracts = load_contracts(services.paths.conf / "contracts")
    topics = [topic_for(f) for f in contracts] + [REJECTS_TOPIC]
    bootstrap = services.kafka.bootstrap_servers
    kafka_io.create_topics(bootstrap, topics, conf.topic_partitions, conf.topic_retention_hours)
    yield conf, contracts, topics
    kafka_io.delete_topics_with_prefix(bootstrap, PREFIX)


@pytest.fixture
def collector(services, pipeline, tmp_path) -> Iterator[TestClient]:
    contracts = pipeline[1]
    sink = collector_producer(services.kafka.bootstrap_servers)
    keys, headers = key_ring(tmp_path)
    app = create_app(contracts, sink, topic_for, REJECTS_TOPIC, health_check=sink.check, keys=keys)
    try:
        yield TestClient(app, headers=headers)
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
        inner = value.get("event", value) if r.topic == REJECTS_TOPIC else value
        if isinstance(inner, dict) and isinstance(inner.get("event_id"), str):
            found[inner["event_id"]] = (r, value)
    return found


def test_a_valid_batch_lands_in_the_family_topics(collector, reader, pipeline):
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
        assert record.topic == topic_for(family)
        assert record.key == KEYS[family]
        assert value["source"] == "collector" and value["family"] == family and value["received_at"]
    assert all(secret.encode() not in (r.value or b"") for r in records)
    assert collector.get("/health").json() == {"status": "ok"}


def test_an_invalid_batch_is_answered_400_and_kept_in_the_rejects_topic(
    collector, reader, pipeline
):
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
    assert found[f"{run}-ok"][0].topic == topic_for("telemetry")
    for event_id, family in ((f"{run}-bad-type", "telemetry"), (f"{run}-bad-api", "game_api")):
        record, value = found[event_id]
        assert record.topic == REJECTS_TOPIC
        assert (
            value["reason"] == "contract_violation"
            and value["family"] == family
            and value["errors"]
        )
        assert "password" not in value["event"]
    (raw,) = [
        json.loads(r.value)
        for r in records
        if r.topic == REJECTS_TOPIC and run.encode() in r.value and b"malformed_json" in r.value
    ]
    assert '"password": "[REDACTED]"' in raw["raw"]
    # No password of this run reached Kafka, in any record of any topic read.
    assert all(secret.encode() not in (r.value or b"") for r in records)


def test_the_seed_003_front_produces_game_api_events_without_the_password(
    collector, reader, pipeline
):
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
            if r.key == user.encode() and r.topic == topic_for("game_api")
        ]

    records = reader.read_until(lambda rs: len(mine(rs)) >= 2)
    assert [(e["event_type"], e["status"]) for e in mine(records)] == [
        ("register", "created"),
        ("buy_sword", "insufficient_funds"),
    ]
    assert all(secret.encode() not in (r.value or b"") for r in records)


# --- write keys, rate limits and oversized events, on topics of their own ----------------------


@pytest.fixture
def private(services, pipeline, tmp_path):
    """A collector writing to topics no one else writes, with one key and a rate limit of one
    request a second (burst 2) on a clock the test moves."""
    conf, contracts, _ = pipeline
    bootstrap = services.kafka.bootstrap_servers
    prefix = f"gamelake.test_{uuid.uuid4().hex[:10]}."
    topics = [prefix + f for f in contracts] + [prefix + "_rejects"]
    kafka_io.create_topics(bootstrap, topics, 1, 1)
    sink = collector_producer(bootstrap, max_record_bytes=conf.max_record_bytes)
    now = [0.0]
    keys, headers = key_ring(tmp_path)
    app = create_app(
        contracts, sink, lambda f: prefix + f, prefix + "_rejects", keys=keys,
        rate_limiter=RateLimiter(1.0, 2, clock=lambda: now[0]),
        max_record_bytes=conf.max_record_bytes,
    )  # fmt: skip

    def landed() -> int:
        return sum(sum(p.values()) for p in kafka_io.end_offsets(bootstrap, topics).values())

    try:
        yield SimpleNamespace(
            app=app, headers=headers, now=now, prefix=prefix, topics=topics, landed=landed,
            limit=conf.max_record_bytes,
        )  # fmt: skip
    finally:
        sink.close()
        kafka_io.delete_topics_with_prefix(bootstrap, prefix)


def test_without_a_valid_key_nothing_reaches_kafka(private):
    anonymous = TestClient(private.app)
    wrong = {"Authorization": "Bearer glk_" + "x" * 43}
    answers = [
        anonymous.post("/v1/events", json=event("telemetry")),
        anonymous.post("/v1/events/telemetry", content=b"{broken"),
        anonymous.post("/create/user", data={"userid": "u", "userpwd": "p", "username": "d"}),
        anonymous.post("/v1/events", json=event("telemetry"), headers=wrong),
        anonymous.post("/buy/sword", data={"userid": "u", "type": "t", "cost": "1"}, headers=wrong),
    ]
    assert [a.status_code for a in answers] == [401] * 5
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/metrics").json()["refused"] == {
        "missing_key": 3, "invalid_key": 2, "rate_limited": 0,
    }  # fmt: skip
    time.sleep(1.0)  # anything produced would be acknowledged by now
    assert private.landed() == 0
    keyed = TestClient(private.app, headers=private.headers)
    assert keyed.post("/v1/events", json=event("telemetry")).status_code == 202
    assert private.landed() == 1


def test_a_key_over_its_rate_limit_gets_429_and_nothing_lands(private):
    client = TestClient(private.app, headers=private.headers)
    statuses = [client.post("/v1/events", json=event("user_score")).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    refused = client.post("/v1/events", json=event("user_score"))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert private.landed() == 2
    private.now[0] += 1.0
    assert client.post("/v1/events", json=event("user_score")).status_code == 202
    assert private.landed() == 3


def test_an_event_over_kafkas_limit_is_rejected_alone_not_a_503(private):
    reader = TopicReader(private.app.state.collector.producer.bootstrap_servers, private.topics)
    try:
        client = TestClient(private.app, headers=private.headers)
        big = event("telemetry", pad="x" * (private.limit + 100_000))
        response = client.post("/v1/events", json=[event("user_score"), big])
        assert response.status_code == 400, response.text
        assert response.json()["accepted"] == 1 and response.json()["errors"][0]["index"] == 1
        records = reader.read_until(lambda rs: len(rs) >= 2)
    finally:
        reader.close()
    by_topic = {r.topic: json.loads(r.value) for r in records}
    assert set(by_topic) == {private.prefix + "user_score", private.prefix + "_rejects"}
    reject = by_topic[private.prefix + "_rejects"]
    assert reject["reason"] == "too_large" and reject["truncated"] is True
    assert reject["raw_bytes"] > private.limit and reject["raw"].startswith('{"family":"telemetry"')

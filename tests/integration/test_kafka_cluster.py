"""A two-broker Kafka started by gamelake.runtime.kafka (a controller-only node plus two
broker-only nodes) keeps taking and serving records when one broker is SIGKILLed: topics at
replication factor 2 with min.insync.replicas 1, every record consumed exactly once."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from gamelake import kafka_io
from gamelake.config import Settings, load_settings
from gamelake.producer import KafkaProducer
from gamelake.runtime import kafka, stack

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

log = logging.getLogger(__name__)

# Own ports (19430-19439), apart from the shared stack's 9092/9093.
BROKER_PORTS = [19430, 19432]
CONTROLLER_PORT = 19431
BEFORE, AFTER = 3_000, 3_000


@pytest.fixture(scope="module")
def cluster(root, tmp_path_factory):
    """Settings of a private controller + two brokers, started and healthy; every node is
    stopped afterwards, also when a test fails."""
    state = tmp_path_factory.mktemp("kafka-cluster")
    overrides = {
        "paths": {"state": str(state)},
        "kafka": {
            "broker_ports": BROKER_PORTS,
            "controller_port": CONTROLLER_PORT,
            "replication_factor": 2,
            "min_insync_replicas": 1,
            "heap_mb": 256,
        },
    }
    settings = load_settings("test", root, overrides)
    try:
        # Healthy means both brokers registered with the controller, not one answering.
        seconds = stack.up(settings, ["kafka"])["kafka"]
        log.info("controller + 2 brokers healthy after %.1fs", seconds)
        yield settings
    finally:
        stack.down(settings, ["kafka"])
    assert all(h.pid() is None for h in kafka.handles(settings))


def _replicas(bootstrap: str, topic: str) -> dict[int, tuple[int, list[int]]]:
    """Each partition's leader and replicas."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-cluster")
    try:
        (described,) = admin.describe_topics([topic])
    finally:
        admin.close()
    parts = described["partitions"]
    return {p["partition_index"]: (p["leader_id"], sorted(p["replica_nodes"])) for p in parts}


def _send(producer: KafkaProducer, topic: str, keys: range) -> None:
    """Nothing: queues one record per key."""
    for i in keys:
        producer.send(topic, f"k-{i}".encode(), f'{{"n": {i}}}'.encode())


def _consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list[str]:
    """The keys of every record of the topic, read from the start without a consumer group
    (its offsets topic would need both brokers)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, client_id="test-read")
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        keys: list[str] = []
        deadline = time.monotonic() + timeout_s
        while len(keys) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                keys.extend(r.key.decode() for r in records)
        # Nothing beyond: one more empty poll.
        for records in consumer.poll(timeout_ms=2000).values():
            keys.extend(r.key.decode() for r in records)
        return keys
    finally:
        consumer.close()


def test_records_survive_a_broker_killed_mid_stream(cluster: Settings):
    k = cluster.kafka
    bootstrap = k.bootstrap_servers
    assert kafka.live_brokers(bootstrap) == [1, 2]
    topic = "gltest.cluster"
    kafka_io.create_topics(bootstrap, [topic], 2, 1, replication_factor=k.replication_factor)
    before = _replicas(bootstrap, topic)
    assert all(replicas == [1, 2] for _, replicas in before.values())

    producer = KafkaProducer(bootstrap, "test-cluster")
    try:
        _send(producer, topic, range(BEFORE))
        producer.flush()
        # Mid-stream: records queued and in flight when the leader of partition 0 dies; its
        # partitions must move to the other broker, and retries must not duplicate a record.
        _send(producer, topic, range(BEFORE, BEFORE + AFTER // 2))
        victim = before[0][0]
        node = next(n for n in kafka.nodes(cluster) if n.node_id == victim)
        killed_at = time.monotonic()
        os.kill(kafka.handle(cluster, node).pid(), signal.SIGKILL)
        _send(producer, topic, range(BEFORE + AFTER // 2, BEFORE + AFTER))
        producer.flush()
    finally:
        sent = producer.close()
    assert sent == {topic: BEFORE + AFTER}
    log.info("every record acknowledged %.1fs after the kill", time.monotonic() - killed_at)

    survivor = 3 - victim
    after = _replicas(bootstrap, topic)
    assert {leader for leader, _ in after.values()} == {survivor}
    deadline = time.monotonic() + 60
    while kafka.live_brokers(bootstrap) != [survivor] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert kafka.live_brokers(bootstrap) == [survivor]
    log.info("broker %d fenced %.1fs after the kill", victim, time.monotonic() - killed_at)
    assert not kafka.is_healthy(bootstrap, brokers=2)

    keys = _consume_all(bootstrap, topic, BEFORE + AFTER)
    assert len(keys) == BEFORE + AFTER
    assert set(keys) == {f"k-{i}" for i in range(BEFORE + AFTER)}

    # `up` starts the missing broker only, and waits until it registered again.
    controller_pid = kafka.handle(cluster).pid()
    log.info("broker %d back after %.1fs", victim, stack.up(cluster, ["kafka"])["kafka"])
    assert kafka.live_brokers(bootstrap) == [1, 2]
    assert kafka.handle(cluster).pid() == controller_pid

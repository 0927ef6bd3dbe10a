"""Kafka clients for gamelake: topic administration (kafka-python), producing records one run at a
time (kafka-python) or in bulk (confluent-kafka, for the generator and file replays)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gamelake.errors import GamelakeError

if TYPE_CHECKING:
    from gamelake.config import Settings

log = logging.getLogger(__name__)


def create_topics(
    bootstrap_servers: str, topics: Iterable[str], partitions: int, retention_hours: int
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="gamelake-admin")
    except (KafkaError, OSError) as exc:
        raise GamelakeError(
            f"cannot reach Kafka at {bootstrap_servers}: {exc}", fix="run `gamelake up`"
        ) from exc
    try:
        existing = set(admin.list_topics())
        wanted = [t for t in dict.fromkeys(topics) if t not in existing]
        if wanted:
            new = [
                NewTopic(
                    name=t,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs={"retention.ms": str(retention_hours * 3600 * 1000)},
                )
                for t in wanted
            ]
            # Created concurrently by another client: the goal holds.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new, timeout_ms=30_000)
            _wait_until_listed(admin, wanted)
        return wanted
    finally:
        admin.close()


def _wait_until_listed(admin, topics: list[str], timeout_s: float = 30.0) -> None:
    """Return once the broker's metadata lists every topic (creation is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while not set(topics) <= set(admin.list_topics()):
        if time.monotonic() > deadline:
            raise GamelakeError(
                f"Kafka accepted topics {topics} but does not list them after {timeout_s:.0f}s",
                fix="check the broker log (`gamelake status` shows where)",
            )
        time.sleep(0.2)


def produce(bootstrap_servers: str, records: Iterable[tuple[str, bytes | None, bytes]]) -> int:
    """Send (topic, key, value) records, waiting for every acknowledgement; returns the count."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        client_id="gamelake-producer",
    )
    sent = 0
    try:
        futures = [producer.send(topic, key=key, value=value) for topic, key, value in records]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
            sent += 1
    except KafkaError as exc:
        raise GamelakeError(
            f"Kafka refused a record after {sent} were acknowledged: {exc}",
            fix="check `gamelake status` and the broker log",
        ) from exc
    finally:
        producer.close()
    return sent


# --- record size ---------------------------------------------------------------------------------

# librdkafka's worst-case framing of one record in a v2 batch (length, attributes, timestamp and
# offset deltas, key and value lengths, header count as varints): it refuses a record whose key,
# value and this overhead exceed the producer's message.max.bytes.
RECORD_OVERHEAD_BYTES = 36


def record_bytes(key: bytes | None, value: bytes) -> int:
    """The size the producer holds against its message limit for one record."""
    return len(key or b"") + len(value) + RECORD_OVERHEAD_BYTES


class RecordTooLarge(GamelakeError):
    """A record over the producer's message size limit: refused alone, the others go on."""


def is_size_error(exc: BaseException) -> bool:
    """True when a producer refused a record for its size (librdkafka or kafka-python)."""
    if type(exc).__name__ == "MessageSizeTooLargeError":  # kafka-python
        return True
    # librdkafka: a KafkaException holding a KafkaError whose name() is the error code.
    name = getattr(exc.args[0] if exc.args else None, "name", None)
    return callable(name) and name() == "MSG_SIZE_TOO_LARGE"


# --- bulk producing (confluent-kafka / librdkafka) ---------------------------------------------

# Settings of the bulk producer; bench/generator.py records them with its results.
BULK_PRODUCER_SETTINGS: dict[str, str | int | bool] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 262_144,
    # The Java client's partitioner, so a key lands where kafka-python and Spark put it.
    "partitioner": "murmur2_random",
    "delivery.report.only.error": True,
}


class KafkaSink:
    """Sends records through librdkafka, counting them per topic; `close` waits for every
    acknowledgement and raises when any record was refused."""

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str = "gamelake-bulk-producer",
        settings: dict[str, str | int | bool] | None = None,
        max_record_bytes: int | None = None,
    ):
        from confluent_kafka import Producer

        self.bootstrap_servers = bootstrap_servers
        self.errors: list[str] = []
        self.failed = 0
        self.per_topic: dict[str, int] = {}
        config = {
            **BULK_PRODUCER_SETTINGS,
            **(settings or {}),
            **({"message.max.bytes": max_record_bytes} if max_record_bytes else {}),
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "on_delivery": self._delivered,
            "error_cb": self._client_error,
        }
        self._producer = Producer(config)
        self._unpolled = 0

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(f"{msg.topic()}: {err}")

    def _client_error(self, err: Any) -> None:
        # Transport errors are retried by librdkafka; only fatal ones end the run.
        if err.fatal() and len(self.errors) < 5:
            self.errors.append(str(err))

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Nothing: queues one record; raises RecordTooLarge for one over the message limit."""
        produce = self._producer.produce
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                # The local queue is full: wait for the broker to acknowledge some batches.
                self._producer.poll(0.05)
            except Exception as exc:  # KafkaException; imported lazily like the producer
                if is_size_error(exc):
                    raise RecordTooLarge(f"{topic}: {exc.args[0]}") from exc
                raise
        self.per_topic[topic] = self.per_topic.get(topic, 0) + 1
        self._unpolled += 1
        if self._unpolled >= 20_000:
            self._producer.poll(0)
            self._unpolled = 0

    def close(self, timeout_s: float = 60.0) -> dict[str, int]:
        """Records acknowledged per topic, once every record sent is acknowledged."""
        remaining = self._producer.flush(timeout_s)
        if remaining or self.failed or self.errors:
            raise GamelakeError(
                f"Kafka at {self.bootstrap_servers} did not take every record: {self.failed} "
                f"refused, {remaining} unacknowledged after {timeout_s:.0f}s"
                + (f" ({'; '.join(self.errors)})" if self.errors else ""),
                fix="check `gamelake status` and the broker log, then send again",
            )
        return dict(self.per_topic)


def send_records(
    bootstrap_servers: str, records: Iterable[tuple[str, bytes | None, bytes]]
) -> dict[str, int]:
    """Send (topic, key, value) records in bulk; returns the count acknowledged per topic."""
    sink = KafkaSink(bootstrap_servers)
    for topic, key, value in records:
        sink.send(topic, key, value)
    return sink.close()


# --- topics of the event families --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TopicInfo:
    """A topic's partitions and the end offset of each (the offset the next record gets)."""

    name: str
    end_offsets: dict[int, int]

    @property
    def partitions(self) -> int:
        return len(self.end_offsets)

    @property
    def total(self) -> int:
        return sum(self.end_offsets.values())


def family_topics(settings: Settings, families: Iterable[str] | None = None) -> list[str]:
    """The topic of each family (every contract's by default), the unrouted and rejects topics."""
    from gamelake.contracts import load_contracts
    from gamelake.pipeline import load_pipeline_conf

    pipeline = load_pipeline_conf(settings.paths.conf)
    if families is None:
        families = load_contracts(settings.paths.conf / "contracts")
    return [
        *(pipeline.topic_for(f) for f in families),
        pipeline.default_topic,
        pipeline.rejects_topic,
    ]


def ensure_family_topics(settings: Settings, families: Iterable[str] | None = None) -> list[str]:
    """Create the missing topics of the families (all contracts' by default) and the
    unrouted-records topic, sized from conf/pipeline.yaml; returns the names created."""
    from gamelake.pipeline import load_pipeline_conf

    pipeline = load_pipeline_conf(settings.paths.conf)
    return create_topics(
        settings.kafka.bootstrap_servers,
        family_topics(settings, families),
        pipeline.topic_partitions,
        pipeline.topic_retention_hours,
    )


def end_offsets(bootstrap_servers: str, topics: Iterable[str]) -> dict[str, dict[int, int]]:
    """The end offset of every partition of each topic that exists (absent topics omitted)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="gamelake-offsets")
    except (KafkaError, OSError) as exc:
        raise GamelakeError(
            f"cannot reach Kafka at {bootstrap_servers}: {exc}", fix="run `gamelake up`"
        ) from exc
    try:
        existing = consumer.topics()
        partitions = [
            TopicPartition(t, p)
            for t in dict.fromkeys(topics)
            if t in existing
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        out: dict[str, dict[int, int]] = {}
        for tp, offset in sorted(consumer.end_offsets(partitions).items()):
            out.setdefault(tp.topic, {})[tp.partition] = offset
        return out
    finally:
        consumer.close()


def describe_topics(bootstrap_servers: str, topics: Iterable[str] | None = None) -> list[TopicInfo]:
    """Partitions and end offsets of the given topics, or of every non-internal topic."""
    from kafka import KafkaConsumer

    if topics is None:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="gamelake-offsets")
        try:
            topics = sorted(t for t in consumer.topics() if not t.startswith("__"))
        finally:
            consumer.close()
    offsets = end_offsets(bootstrap_servers, topics)
    return [TopicInfo(name, offsets[name]) for name in topics if name in offsets]


def delete_topics_with_prefix(bootstrap_servers: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`; returns the names deleted."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="gamelake-admin")
    try:
        mine = sorted(t for t in admin.list_topics() if t.startswith(prefix))
        if mine:
            admin.delete_topics(mine)
        return mine
    finally:
        admin.close()

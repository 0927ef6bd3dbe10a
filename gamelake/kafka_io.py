"""Kafka topics of gamelake (kafka-python's admin and consumer clients): create the families'
topics, list them with their end offsets, delete a test run's. Records are sent by
gamelake/producer.py."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from gamelake.errors import GamelakeError

if TYPE_CHECKING:
    from gamelake.config import Settings


def _connect(client: Callable[..., Any], bootstrap_servers: str, client_id: str) -> Any:
    """A kafka-python client (admin or consumer) on the brokers; GamelakeError when none answers."""
    from kafka.errors import KafkaError

    try:
        return client(bootstrap_servers=bootstrap_servers, client_id=client_id)
    except (KafkaError, OSError) as exc:
        raise GamelakeError(
            f"cannot reach Kafka at {bootstrap_servers}: {exc}", fix="run `gamelake up`"
        ) from exc


def create_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int,
    retention_hours: int,
    replication_factor: int | None = None,
) -> list[str]:
    """Create the topics that do not exist yet, with `replication_factor` replicas each (None:
    the brokers' default.replication.factor); returns the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = _connect(KafkaAdminClient, bootstrap_servers, "gamelake-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [t for t in dict.fromkeys(topics) if t not in existing]
        if wanted:
            new = [
                NewTopic(
                    name=t,
                    num_partitions=partitions,
                    replication_factor=-1 if replication_factor is None else replication_factor,
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
    from gamelake.conventions import load_pipeline_conf

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
    from gamelake.conventions import load_pipeline_conf

    pipeline = load_pipeline_conf(settings.paths.conf)
    return create_topics(
        settings.kafka.bootstrap_servers,
        family_topics(settings, families),
        pipeline.topic_partitions,
        pipeline.topic_retention_hours,
        settings.kafka.replication_factor,
    )


def end_offsets(bootstrap_servers: str, topics: Iterable[str]) -> dict[str, dict[int, int]]:
    """The end offset of every partition of each topic that exists (absent topics omitted)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = _connect(KafkaConsumer, bootstrap_servers, "gamelake-offsets")
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
        consumer = _connect(KafkaConsumer, bootstrap_servers, "gamelake-offsets")
        try:
            topics = sorted(t for t in consumer.topics() if not t.startswith("__"))
        finally:
            consumer.close()
    offsets = end_offsets(bootstrap_servers, topics)
    return [TopicInfo(name, offsets[name]) for name in topics if name in offsets]


def delete_topics_with_prefix(bootstrap_servers: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`; returns the names deleted."""
    from kafka import KafkaAdminClient

    admin = _connect(KafkaAdminClient, bootstrap_servers, "gamelake-admin")
    try:
        mine = sorted(t for t in admin.list_topics() if t.startswith(prefix))
        if mine:
            admin.delete_topics(mine)
        return mine
    finally:
        admin.close()

"""Kafka clients for gamelake: topic administration and producing records (kafka-python)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from gamelake.errors import GamelakeError

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
        return wanted
    finally:
        admin.close()


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

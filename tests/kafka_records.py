"""Records the tests put in Kafka, through gamelake's producer."""

from __future__ import annotations

from collections.abc import Iterable

from gamelake.producer import KafkaProducer

# The tests produce as any client may, up to the broker's own limit (message.max.bytes,
# 1 MiB by default): a hostile 1 MB record reaches Kafka whatever gamelake's producers cap
# (pipeline.yaml's max_record_bytes), and librdkafka's client default (1,000,000) would
# refuse it before the broker sees it.
BROKER_MESSAGE_LIMIT = 1_048_576


def produce(bootstrap_servers: str, records: Iterable[tuple[str, bytes | None, bytes]]) -> int:
    """How many (topic, key, value) records were sent, once Kafka acknowledged every one."""
    producer = KafkaProducer(
        bootstrap_servers, "gamelake-tests", max_record_bytes=BROKER_MESSAGE_LIMIT
    )
    for topic, key, value in records:
        producer.send(topic, key, value)
    return sum(producer.close().values())

"""Records the tests put in Kafka, through gamelake's producer."""

from __future__ import annotations

from collections.abc import Iterable

from gamelake.producer import KafkaProducer


def produce(bootstrap_servers: str, records: Iterable[tuple[str, bytes | None, bytes]]) -> int:
    """How many (topic, key, value) records were sent, once Kafka acknowledged every one."""
    producer = KafkaProducer(bootstrap_servers, "gamelake-tests")
    for topic, key, value in records:
        producer.send(topic, key, value)
    return sum(producer.close().values())

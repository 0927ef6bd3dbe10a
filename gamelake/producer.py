"""The Kafka producer of gamelake (confluent-kafka, librdkafka): the generator, `gamelake produce`
and the collector send records through it; and the size rule a record is held to."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

from gamelake.errors import GamelakeError

# librdkafka's worst-case framing of one record in a v2 batch (length, attributes, timestamp and
# offset deltas, key and value lengths, header count as varints): it refuses a record whose key,
# value and this overhead exceed the producer's message.max.bytes.
RECORD_OVERHEAD_BYTES = 36

# Runs that send many records and wait once at the end (generator, file replays);
# bench/generator.py records them with its results.
BULK_SETTINGS: dict[str, str | int | bool] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 262_144,
    # The Java client's partitioner, so a key lands where kafka-python and Spark put it.
    "partitioner": "murmur2_random",
    # A success report per record would cost a callback each: `flush` waits for the queue.
    "delivery.report.only.error": True,
}

# Requests that each wait for their own records (the collector): a short linger merges
# concurrent requests' records into batches without adding much to the answer's latency, and
# a record Kafka cannot take (missing topic, broker down) fails the request in bounded time
# rather than after librdkafka's default five minutes.
REQUEST_SETTINGS: dict[str, str | int | bool] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 2,
    "message.timeout.ms": 30_000,
}

log = logging.getLogger(__name__)

# Sends between two polls that serve delivery reports, when no flush does.
_POLL_EVERY = 20_000
# Errors a failure message quotes.
_ERRORS_SHOWN = 5


def record_bytes(key: bytes | None, value: bytes) -> int:
    """The size the producer holds against its message limit for one record."""
    return len(key or b"") + len(value) + RECORD_OVERHEAD_BYTES


class ClientLog:
    """librdkafka's log lines as Python log records of this module (its `logger` setting), with
    a cold broker's passing wait for its transaction coordinator demoted to DEBUG: librdkafka
    retries it by itself, and a first run should not print it as a warning."""

    def log(self, level: int, msg: str, *args: Any) -> None:
        text = msg % args if args else msg
        facility = args[0] if args else ""
        if facility == "GETPID" and "load in progress" in text and text.endswith("retrying"):
            level = logging.DEBUG
        log.log(level, "librdkafka: %s", text)


class RecordTooLarge(GamelakeError):
    """A record over the producer's message size limit: refused alone, the others go on."""


def is_size_error(exc: BaseException) -> bool:
    """True when librdkafka refused a record for its size."""
    # A KafkaException holding a KafkaError whose name() is the error code.
    name = getattr(exc.args[0] if exc.args else None, "name", None)
    return callable(name) and name() == "MSG_SIZE_TOO_LARGE"


class _Batch:
    """The records one thread sent since its last flush: counts per topic, delivery reports."""

    def __init__(self) -> None:
        self.sent = 0
        self.per_topic: dict[str, int] = {}
        # One entry a report, the error or None: list.append is atomic, and the reports of one
        # batch may be served by several polling threads at once.
        self.reports: list[str | None] = []

    def delivered(self, err: Any, msg: Any) -> None:
        self.reports.append(None if err is None else f"{msg.topic()}: {err}")

    @property
    def failures(self) -> list[str]:
        return [r for r in self.reports if r is not None]


class KafkaProducer:
    """Sends records through librdkafka (acks=all, idempotent), counting them per topic; shared
    by threads. `flush` waits for the calling thread's records, `close` for every record, and
    each raises GamelakeError when Kafka did not take them all."""

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        settings: dict[str, str | int | bool] = BULK_SETTINGS,
        max_record_bytes: int | None = None,
        timeout_s: float = 30.0,
    ):
        from confluent_kafka import KafkaException, Producer

        config: dict[str, Any] = {
            **settings,
            **({"message.max.bytes": max_record_bytes} if max_record_bytes else {}),
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "error_cb": self._client_error,
            "logger": ClientLog(),
        }
        # With success reports each record's report goes to its thread's batch; without, the
        # (rare) failures go to one list and a flush waits for the whole queue.
        self._reports_each = not config.get("delivery.report.only.error", False)
        if not self._reports_each:
            config["on_delivery"] = self._undelivered
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        self._failures: list[str] = []
        self._fatal: list[str] = []
        try:
            self._producer = Producer(config)
        except KafkaException as exc:
            raise GamelakeError(f"bad Kafka producer settings: {exc}") from exc
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[_Batch] = set()
        self._counted: Counter[str] = Counter()
        self._unpolled = 0
        self._closed = False

    def _undelivered(self, err: Any, msg: Any) -> None:
        self._failures.append(f"{msg.topic()}: {err}")

    def _client_error(self, err: Any) -> None:
        # Transport errors are retried by librdkafka; only fatal ones fail the run.
        if err.fatal() and len(self._fatal) < _ERRORS_SHOWN:
            self._fatal.append(str(err))

    @property
    def per_topic(self) -> dict[str, int]:
        """Records sent per topic so far."""
        with self._lock:
            total = Counter(self._counted)
            for batch in self._open:
                total.update(batch.per_topic)
        return dict(total)

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Nothing: queues one record (this thread's next flush, or close, answers for it);
        raises RecordTooLarge for one over the message limit."""
        if self._closed:
            raise GamelakeError("the Kafka producer is closed")
        batch = getattr(self._local, "batch", None) or self._new_batch()
        try:
            if self._reports_each:
                self._producer.produce(topic, value, key, on_delivery=batch.delivered)
            else:
                self._producer.produce(topic, value, key)
        except Exception as exc:  # the rare path: see _retry
            self._retry(topic, key, value, batch, exc)
        batch.sent += 1
        batch.per_topic[topic] = batch.per_topic.get(topic, 0) + 1
        self._unpolled += 1
        if self._unpolled >= _POLL_EVERY:
            self._producer.poll(0)
            self._unpolled = 0

    def _retry(
        self, topic: str, key: bytes | None, value: bytes, batch: _Batch, exc: Exception
    ) -> None:
        """Nothing once a record refused with a full local queue is queued; raises
        RecordTooLarge, or GamelakeError when Kafka refused it for another reason."""
        from confluent_kafka import KafkaException

        deadline = time.monotonic() + self.timeout_s
        callback = {"on_delivery": batch.delivered} if self._reports_each else {}
        while isinstance(exc, BufferError) and time.monotonic() < deadline:
            # The local queue is full: wait for the broker to acknowledge some batches.
            self._producer.poll(0.05)
            try:
                self._producer.produce(topic, value, key, **callback)
                return
            except Exception as again:
                exc = again
        if is_size_error(exc):
            raise RecordTooLarge(f"{topic}: {exc.args[0]}") from exc
        if isinstance(exc, BufferError | KafkaException):
            raise GamelakeError(
                f"Kafka producer refused a record for {topic}: {exc}",
                fix="check `gamelake status` and the broker log",
            ) from exc
        raise exc

    def flush(self) -> None:
        """Nothing: returns once Kafka acknowledged the records this thread sent since its last
        flush, else raises GamelakeError."""
        batch = getattr(self._local, "batch", None) or _Batch()
        self._local.batch = None
        with self._lock:
            self._close_batch(batch)
        self._check_open()
        if not batch.sent:
            return
        if self._reports_each:
            # Not Producer.flush(): under concurrent requests the queue is never empty, so a
            # global flush would wait for other threads' records too. Any thread's poll serves
            # this thread's reports.
            deadline = time.monotonic() + self.timeout_s
            while len(batch.reports) < batch.sent and time.monotonic() < deadline:
                self._producer.poll(0.005)
            unacknowledged, failures = batch.sent - len(batch.reports), batch.failures
        else:
            unacknowledged = min(self._producer.flush(self.timeout_s), batch.sent)
            failures = self._take_failures()
        if failures or unacknowledged:
            raise GamelakeError(
                f"Kafka acknowledged {batch.sent - unacknowledged - len(failures)} of "
                f"{batch.sent} records" + (f": {failures[0]}" if failures else " in time"),
                fix="check `gamelake status`, the broker log and `gamelake topics list`",
            )

    def check(self) -> None:
        """Nothing: raises GamelakeError unless the broker answers a metadata request."""
        from confluent_kafka import KafkaException

        self._check_open()
        try:
            self._producer.list_topics(timeout=2.0)
        except KafkaException as exc:
            raise GamelakeError(
                f"no Kafka broker answers at {self.bootstrap_servers}: {exc}",
                fix="run `gamelake up`",
            ) from exc

    def close(self, timeout_s: float = 60.0) -> dict[str, int]:
        """Records sent per topic, once Kafka acknowledged every record no flush answered for;
        then it takes no more (closing again returns the counts)."""
        if self._closed:
            return self.per_topic
        self._closed = True
        with self._lock:
            unflushed = sum(batch.sent for batch in self._open)
        try:
            # librdkafka's queue length counts its own pending requests and events too (a
            # purged record's report made it 2 for 1 record): only records are reported.
            remaining = min(self._producer.flush(timeout_s), unflushed)
        finally:
            # What is left is reported below, not retried: librdkafka's threads would go on
            # calling a broker long gone, as long as anything held this object.
            self._producer.purge()
            self._producer.close()
        with self._lock:
            batches = list(self._open)
            for batch in batches:
                self._close_batch(batch)
        failures = [f for batch in batches for f in batch.failures] + self._take_failures()
        errors = (failures + self._fatal)[:_ERRORS_SHOWN]
        if remaining or failures or self._fatal:
            raise GamelakeError(
                f"Kafka at {self.bootstrap_servers} did not take every record: {len(failures)} "
                f"refused, {remaining} unacknowledged after {timeout_s:.0f}s"
                + (f" ({'; '.join(errors)})" if errors else ""),
                fix="check `gamelake status` and the broker log, then send again",
            )
        return self.per_topic

    def _check_open(self) -> None:
        if self._closed:
            raise GamelakeError("the Kafka producer is closed")

    def _new_batch(self) -> _Batch:
        batch = self._local.batch = _Batch()
        with self._lock:
            self._open.add(batch)
        return batch

    def _close_batch(self, batch: _Batch) -> None:
        # Under the lock: its counts join the totals, its reports are answered for.
        self._open.discard(batch)
        self._counted.update(batch.per_topic)

    def _take_failures(self) -> list[str]:
        failures, self._failures = self._failures, []
        return failures

"""The Kafka producer's accounting, with no broker: a request waits for its own records, a
bulk run for all of them, and each says when Kafka did not take them."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

import pytest

from gamelake.errors import GamelakeError
from gamelake.producer import BULK_SETTINGS, REQUEST_SETTINGS, ClientLog, KafkaProducer

# No broker listens there; records time out after a fifth of a second.
NOWHERE = "127.0.0.1:1"
QUIET = {"log_level": 0, "message.timeout.ms": 200}


def test_a_request_flush_raises_for_its_own_unacknowledged_records_only():
    producer = KafkaProducer(NOWHERE, "tests", {**REQUEST_SETTINGS, **QUIET}, timeout_s=10)
    producer.send("t", b"k", b"v")
    producer.send("t", None, b"w")
    with pytest.raises(GamelakeError, match="acknowledged 0 of 2 records: t: "):
        producer.flush()
    other: list[None] = []
    thread = threading.Thread(target=lambda: other.append(_flush_nothing(producer)))
    thread.start()
    thread.join()
    assert other == [None]  # another thread had sent nothing: nothing to wait for
    # What a flush reported is not reported again at close.
    assert producer.close() == {"t": 2}
    with pytest.raises(GamelakeError, match="closed"):
        producer.send("t", None, b"x")


def _flush_nothing(producer: KafkaProducer) -> None:
    producer.flush()


def test_a_bulk_run_reports_every_refused_record_at_close():
    producer = KafkaProducer(NOWHERE, "tests", {**BULK_SETTINGS, **QUIET})
    for i in range(3):
        producer.send("t", None, b"%d" % i)
    with pytest.raises(GamelakeError, match="did not take every record: 3 refused"):
        producer.close(timeout_s=10)


def _client_threads() -> int:
    """librdkafka's threads in this process (it names them rdk:main, rdk:broker-N...)."""
    names = []
    for task in Path("/proc/self/task").iterdir():
        # A thread that just ended: gone from the listing (ENOENT), or still listed with its
        # files no longer readable (ESRCH).
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            names.append((task / "comm").read_text())
    return sum(name.startswith("rdk:") for name in names)


def test_a_closed_producer_leaves_no_client_thread_calling_the_broker():
    before = _client_threads()
    producer = KafkaProducer(NOWHERE, "tests", {**REQUEST_SETTINGS, **QUIET})
    assert _client_threads() > before
    producer.send("t", None, b"v")
    with pytest.raises(GamelakeError, match="did not take every record"):
        producer.close(timeout_s=0.5)
    # Still referenced (as an app or a fixture holds it), yet nothing of it runs.
    assert _client_threads() <= before
    assert producer.close() == {"t": 1}  # closing again only counts


def test_client_log_demotes_a_loading_coordinator_and_keeps_real_failures(caplog):
    client = ClientLog()
    name = "rdkafka#producer-1"
    with caplog.at_level(logging.DEBUG, logger="gamelake.producer"):
        client.log(logging.WARNING, "%s [%s] %s", "GETPID", name,
                   "[thrd:main]: Failed to acquire idempotence PID from broker 127.0.0.1:9092/1: "
                   "Broker: Coordinator load in progress: retrying")  # fmt: skip
        client.log(logging.ERROR, "%s [%s] %s", "FAIL", name,
                   "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused")  # fmt: skip
    levels = [(r.levelno, r.getMessage().split()[1]) for r in caplog.records]
    assert levels == [(logging.DEBUG, "GETPID"), (logging.ERROR, "FAIL")]

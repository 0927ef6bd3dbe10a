"""Generated records fed to Kafka or to a record file, at a pace, with counts of what was sent
(`gamelake generate`, the demo and the benchmarks)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from gamelake.generator import Pacer, Record
from gamelake.producer import BULK_SETTINGS, KafkaProducer
from gamelake.record_file import encode_line


@dataclasses.dataclass
class Summary:
    """What a run sent: counts per family and topic, duplicates, malformed by kind, late."""

    records: int = 0
    seconds: float = 0.0
    per_family: Counter[str] = dataclasses.field(default_factory=Counter)
    per_topic: Counter[str] = dataclasses.field(default_factory=Counter)
    malformed: Counter[str] = dataclasses.field(default_factory=Counter)
    duplicates: int = 0
    late: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def merge(self, other: Summary) -> None:
        self.records += other.records
        self.per_family.update(other.per_family)
        self.per_topic.update(other.per_topic)
        self.malformed.update(other.malformed)
        self.duplicates += other.duplicates
        self.late += other.late

    def add(self, record: Record) -> None:
        self.records += 1
        self.per_family[record.family] += 1
        if record.duplicate:
            self.duplicates += 1
        if record.malformed:
            self.malformed[record.malformed] += 1
        if record.late:
            self.late += 1


def drive(
    records: Iterable[Record],
    send: Callable[[Record], None],
    rate: float = 0.0,
    duration_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    """Feed records to `send` at `rate` events/s (0: as fast as possible, with bursts per
    Pacer), for at most `duration_s` seconds; returns the counts of what was sent."""
    summary = Summary()
    pacer = Pacer(rate)
    started = clock()
    # About every 10 ms of the schedule; unpaced runs only look at the clock for --duration.
    check_every = max(1, int(rate / 100)) if rate > 0 else 1000
    for record in records:
        if summary.records % check_every == 0:
            elapsed = clock() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            if rate > 0:
                ahead = summary.records - pacer.allowed(elapsed)
                # Sleep until the schedule catches up, in short steps so --duration holds.
                while ahead > 0:
                    sleep(min(0.05, ahead / rate))
                    elapsed = clock() - started
                    if duration_s is not None and elapsed >= duration_s:
                        break
                    ahead = summary.records - pacer.allowed(elapsed)
                if duration_s is not None and elapsed >= duration_s:
                    break
            if on_progress is not None:
                on_progress(summary.records)
        send(record)
        summary.add(record)
    summary.seconds = clock() - started
    if on_progress is not None:
        on_progress(summary.records)
    return summary


def to_kafka(
    bootstrap_servers: str,
    records: Iterable[Record],
    topics: dict[str, str],
    rate: float = 0.0,
    duration_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    producer_settings: dict[str, str | int | bool] | None = None,
) -> Summary:
    """Counts of the records sent to Kafka, each to its family's topic in `topics`, once the
    broker acknowledged all of them."""
    producer = KafkaProducer(
        bootstrap_servers, "gamelake-generator", {**BULK_SETTINGS, **(producer_settings or {})}
    )
    send = producer.send

    def send_record(record: Record) -> None:
        send(topics[record.family], record.key, record.value)

    summary = drive(records, send_record, rate, duration_s, on_progress)
    summary.per_topic.update(producer.close())
    return summary


def to_file(
    path: Path,
    records: Iterable[Record],
    rate: float = 0.0,
    duration_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Summary:
    """Counts of the records written to a record file (the format in this module's doc)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write = fh.write
        summary = drive(records, lambda r: write(encode_line(r)), rate, duration_s, on_progress)
    summary.per_topic[str(path)] = summary.records
    return summary

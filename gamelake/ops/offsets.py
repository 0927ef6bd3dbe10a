"""Kafka offset ranges for batch reads: parsing the user's bounds, resolving them to explicit
per-partition offsets, and the guards that refuse ranges Kafka no longer (or never) held.

Offsets are `{topic: {partition: offset}}`, the shape of Spark's startingOffsets JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from gamelake import lakefs
from gamelake.errors import GamelakeError

Offsets = dict[str, dict[int, int]]
BoundKind = Literal["earliest", "latest", "offsets", "timestamp"]


@dataclasses.dataclass(frozen=True)
class Bound:
    """One end of a range as the user gave it: earliest, latest, explicit offsets or a time."""

    kind: BoundKind
    offsets: Offsets | None = None
    timestamp_ms: int | None = None

    def describe(self) -> str:
        if self.kind == "offsets":
            return json.dumps(offsets_json(self.offsets or {}))
        if self.kind == "timestamp":
            when = dt.datetime.fromtimestamp((self.timestamp_ms or 0) / 1000, dt.UTC)
            return when.isoformat()
        return self.kind


@dataclasses.dataclass(frozen=True)
class Gap:
    """A partition whose needed offset lies outside what it should be."""

    topic: str
    partition: int
    wanted: int
    available: int

    @property
    def records(self) -> int:
        return abs(self.available - self.wanted)


def parse_offsets(text: str) -> Offsets:
    """Offsets from Spark's JSON form `{"topic": {"0": 12, "1": 40}}`."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GamelakeError(
            f"offsets {text!r} are not JSON: {exc.msg}",
            fix='give them as {"<topic>": {"<partition>": <offset>, ...}, ...}',
        ) from exc
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise GamelakeError(
            f"offsets {text!r} are not a topic -> partition -> offset map",
            fix='give them as {"<topic>": {"<partition>": <offset>, ...}, ...}',
        )
    try:
        return {
            str(topic): {int(p): int(o) for p, o in parts.items()} for topic, parts in raw.items()
        }
    except (TypeError, ValueError) as exc:
        raise GamelakeError(
            f"offsets {text!r} hold a partition or offset that is not an integer"
        ) from exc


def offsets_json(offsets: Mapping[str, Mapping[int, int]]) -> dict[str, dict[str, int]]:
    """Offsets as Spark's JSON object (partition numbers as strings), sorted."""
    return {
        t: {str(p): int(o) for p, o in sorted(parts.items())}
        for t, parts in sorted(offsets.items())
    }


def parse_time_ms(text: str) -> int:
    """Epoch milliseconds from an ISO 8601 time (UTC when it names no zone) or epoch ms."""
    text = text.strip()
    if re.fullmatch(r"\d{10,}", text):
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise GamelakeError(
            f"{text!r} is neither an ISO 8601 time nor epoch milliseconds",
            fix="e.g. 2026-11-23T18:00:00Z or 1795370400000",
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def parse_bound(text: str) -> Bound:
    """A bound from `earliest`, `latest`, Spark's offsets JSON, an ISO time or epoch ms."""
    text = text.strip()
    if text in ("earliest", "latest"):
        return Bound(text)  # type: ignore[arg-type]
    if text.startswith("{"):
        return Bound("offsets", offsets=parse_offsets(text))
    return Bound("timestamp", timestamp_ms=parse_time_ms(text))


def select_topics(topics: Iterable[str], pattern: str) -> list[str]:
    """The topics Spark's subscribePattern would read (Java `matches`: the whole name)."""
    regex = re.compile(pattern)
    return sorted(t for t in topics if not t.startswith("__") and regex.fullmatch(t))


def resolve_bound(
    bound: Bound,
    earliest: Offsets,
    latest: Offsets,
    at_time: Offsets | None = None,
) -> Offsets:
    """Explicit offsets for every partition in `latest` (the topics in play).

    Explicit offsets name their topics; a named topic's unnamed partitions start at the
    earliest offset Kafka holds, other topics are left out. A time resolves through
    `at_time` (Kafka's offsets-for-times, partitions with no record since then at the end).
    """
    if bound.kind == "earliest":
        return {t: dict(parts) for t, parts in earliest.items() if t in latest}
    if bound.kind == "latest":
        return {t: dict(parts) for t, parts in latest.items()}
    if bound.kind == "timestamp":
        if at_time is None:
            raise ValueError("a time bound needs Kafka's offsets for that time")
        return {
            t: {p: at_time.get(t, {}).get(p, end) for p, end in parts.items()}
            for t, parts in latest.items()
        }
    given = bound.offsets or {}
    unknown = sorted(set(given) - set(latest))
    if unknown:
        raise GamelakeError(
            f"offsets name topics that are not read here: {', '.join(unknown)}",
            fix=f"choose among {', '.join(sorted(latest)) or '(no topic matches)'}",
        )
    out: Offsets = {}
    for topic, parts in given.items():
        bad = sorted(set(parts) - set(latest[topic]))
        if bad:
            raise GamelakeError(
                f"topic {topic} has no partition {bad[0]}",
                fix=f"its partitions are {sorted(latest[topic])}",
            )
        out[topic] = {
            p: parts.get(p, earliest.get(topic, {}).get(p, 0)) for p in sorted(latest[topic])
        }
    return out


def clamp_range(start: Offsets, end: Offsets) -> tuple[Offsets, Offsets]:
    """The partitions of `start` with something to read (start < end), with their ends."""
    s_out: Offsets = {}
    e_out: Offsets = {}
    for topic, parts in start.items():
        for p, s in parts.items():
            e = end.get(topic, {}).get(p)
            if e is not None and s < e:
                s_out.setdefault(topic, {})[p] = s
                e_out.setdefault(topic, {})[p] = e
    return s_out, e_out


def range_size(start: Offsets, end: Offsets) -> int:
    """Offsets in [start, end) over every partition (records, unless compaction removed some)."""
    return sum(
        max(0, end.get(t, {}).get(p, s) - s) for t, parts in start.items() for p, s in parts.items()
    )


def spark_range_options(start: Offsets, end: Offsets) -> dict[str, str]:
    """Options of spark.read.format("kafka") reading exactly [start, end) per partition."""
    start, end = clamp_range(start, end)
    assign = {t: sorted(parts) for t, parts in sorted(start.items())}
    return {
        # assign, not subscribe: Spark wants explicit offsets for every partition it reads.
        "assign": json.dumps(assign),
        "startingOffsets": json.dumps(offsets_json(start)),
        "endingOffsets": json.dumps(offsets_json(end)),
    }


def retention_gaps(start: Offsets, earliest: Offsets) -> list[Gap]:
    """Partitions where the range starts before the earliest offset Kafka still holds."""
    return [
        Gap(t, p, wanted, earliest.get(t, {}).get(p, 0))
        for t, parts in sorted(start.items())
        for p, wanted in sorted(parts.items())
        if wanted < earliest.get(t, {}).get(p, 0)
    ]


def time_retention_gaps(start: Offsets, earliest: Offsets) -> list[Gap]:
    """For a start given as a time: partitions whose first record since then is the first
    record Kafka still holds, after retention deleted older ones — records from that time
    may be among the deleted, so the range cannot be proven complete."""
    return [
        Gap(t, p, wanted, earliest.get(t, {}).get(p, 0))
        for t, parts in sorted(start.items())
        for p, wanted in sorted(parts.items())
        if earliest.get(t, {}).get(p, 0) > 0 and wanted == earliest.get(t, {}).get(p, 0)
    ]


def skipped_gaps(start: Offsets, committed: Offsets) -> list[Gap]:
    """Partitions where a new start lies beyond what a stream had committed: the records in
    between would never land."""
    return [
        Gap(t, p, wanted, committed[t][p])
        for t, parts in sorted(start.items())
        for p, wanted in sorted(parts.items())
        if t in committed and p in committed[t] and wanted > committed[t][p]
    ]


def describe_gaps(gaps: list[Gap], limit: int = 5) -> str:
    shown = ", ".join(
        f"{g.topic}[{g.partition}] wants {g.wanted}, has {g.available}" for g in gaps[:limit]
    )
    more = f" and {len(gaps) - limit} more" if len(gaps) > limit else ""
    return shown + more


def check_retention(start: Bound, resolved: Offsets, earliest: Offsets, force: bool) -> list[Gap]:
    """Refuse (GamelakeError) a start Kafka's retention no longer holds, unless `force`;
    returns the gaps found (empty when the range is intact)."""
    if start.kind == "offsets":
        gaps = retention_gaps(resolved, earliest)
        why = "Kafka's retention already deleted records the range starts with"
    elif start.kind == "timestamp":
        gaps = time_retention_gaps(resolved, earliest)
        why = (
            f"Kafka's retention deleted records of partitions whose oldest kept record is "
            f"newer than {start.describe()}: records from that time may be lost"
        )
    else:
        return []  # earliest/latest: whatever Kafka holds is the range by definition
    if gaps and not force:
        lost = sum(g.records for g in gaps if start.kind == "offsets")
        raise GamelakeError(
            f"{why}: {describe_gaps(gaps)}" + (f" ({lost} records gone)" if lost else ""),
            fix="start at or after the earliest offsets (`--earliest`), or pass --force to "
            "read what is left",
        )
    return gaps


def checkpoint_offsets(checkpoint: Path) -> Offsets | None:
    """The Kafka offsets a stream's checkpoint has committed (the next batch starts there);
    None when the checkpoint has committed nothing."""
    done = sorted(int(n) for n in lakefs.list_names(checkpoint / "commits") if n.isdigit())
    if not done:
        return None
    lines = lakefs.read_text(checkpoint / "offsets" / str(done[-1])).splitlines()
    # Line 1 is the log version, line 2 the batch metadata, then one line per source.
    for line in lines[2:]:
        raw = json.loads(line)
        if isinstance(raw, dict) and all(isinstance(v, dict) for v in raw.values()):
            return {t: {int(p): int(o) for p, o in parts.items()} for t, parts in raw.items()}
    return None


# --- what the broker holds (kafka-python) --------------------------------------------------------


def _consumer(bootstrap_servers: str):
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        return KafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="gamelake-ops")
    except (KafkaError, OSError) as exc:
        raise GamelakeError(
            f"cannot reach Kafka at {bootstrap_servers}: {exc}", fix="run `gamelake up`"
        ) from exc


def _by_topic(found: Mapping) -> Offsets:
    out: Offsets = {}
    for tp, offset in sorted(found.items()):
        value = offset.offset if hasattr(offset, "offset") else offset
        if value is not None:
            out.setdefault(tp.topic, {})[tp.partition] = int(value)
    return out


def broker_offsets(bootstrap_servers: str, topic_pattern: str) -> tuple[Offsets, Offsets]:
    """(earliest, latest) offsets Kafka holds for every partition of the matching topics."""
    from kafka import TopicPartition

    consumer = _consumer(bootstrap_servers)
    try:
        topics = select_topics(consumer.topics(), topic_pattern)
        partitions = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        if not partitions:
            return {}, {}
        return (
            _by_topic(consumer.beginning_offsets(partitions)),
            _by_topic(consumer.end_offsets(partitions)),
        )
    finally:
        consumer.close()


def offsets_for_time(bootstrap_servers: str, partitions: Offsets, timestamp_ms: int) -> Offsets:
    """The first offset at or after `timestamp_ms` in each partition (absent: none since)."""
    from kafka import TopicPartition

    consumer = _consumer(bootstrap_servers)
    try:
        query = {
            TopicPartition(t, p): timestamp_ms for t, parts in partitions.items() for p in parts
        }
        return _by_topic(consumer.offsets_for_times(query)) if query else {}
    finally:
        consumer.close()


def resolve_with_broker(
    bootstrap_servers: str, earliest: Offsets, latest: Offsets, bound: Bound
) -> Offsets:
    """`resolve_bound`, asking Kafka for offsets by time when the bound is a time."""
    at_time = (
        offsets_for_time(bootstrap_servers, latest, bound.timestamp_ms or 0)
        if bound.kind == "timestamp"
        else None
    )
    return resolve_bound(bound, earliest, latest, at_time)


def start_bound_from(
    earliest: bool = False, from_timestamp: str | None = None, from_offsets: str | None = None
) -> Bound | None:
    """The start the user chose with --earliest / --from-timestamp / --from-offsets (at most
    one); None when none was given."""
    chosen = [x for x in (earliest, from_timestamp, from_offsets) if x]
    if len(chosen) > 1:
        raise GamelakeError(
            "more than one start given",
            fix="give one of --earliest, --from-timestamp, --from-offsets",
        )
    if earliest:
        return Bound("earliest")
    if from_timestamp:
        return Bound("timestamp", timestamp_ms=parse_time_ms(from_timestamp))
    if from_offsets:
        return Bound("offsets", offsets=parse_offsets(from_offsets))
    return None

"""`gamelake produce`: the lines of a file to Kafka, each to its family's topic.

A record-file line (gamelake/record_file.py) sends its `value` with its `key` to the topic of
the family it names. A line that is no such wrapper is itself the payload, sent byte for byte
when it is text, to the family its shape is recognised as (gamelake/routing.py); a line no
family claims goes to the unrouted topic. A line that is no UTF-8 or holds control bytes
(binary), and any record over Kafka's message limit, goes to the rejects topic instead (its
head, with the reason; see gamelake/rejects.py), and the replay goes on with the next line.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path

from gamelake.conventions import PipelineConf
from gamelake.errors import GamelakeError
from gamelake.kafka_io import create_topics
from gamelake.producer import RECORD_OVERHEAD_BYTES, KafkaProducer, RecordTooLarge
from gamelake.record_file import FileRecord, count_blank_lines, read_record_file
from gamelake.rejects import iso_utc, raw_keep, raw_reject
from gamelake.routing import Recogniser, route_bytes

# A JSON escape (\u0001) takes 6 bytes of a line for 1 byte of payload: a line longer than
# 6x the message limit cannot unwrap to a record that fits, so only its head is read.
MAX_ESCAPE_RATIO = 6
# C0 control bytes besides tab and carriage return: no text line, no JSON, holds them raw.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Rejected lines the replay names one by one; the rest are counted by reason.
REJECTS_SHOWN = 20


@dataclasses.dataclass(frozen=True)
class LineReject:
    """A file line that is not sent as it is: the reason, in a word and in words, its size."""

    line_no: int
    reason: str
    message: str
    size: int


def _line_error(reject: LineReject) -> dict[str, str]:
    return {"path": "", "message": f"line {reject.line_no}: {reject.message}"}


def check_record(record: FileRecord, max_record_bytes: int) -> LineReject | None:
    """Why a file record cannot go to Kafka as it is (over the message limit, no UTF-8 text,
    binary), else None. Wrapped values are exact bytes and may be anything."""
    size = len(record.key or b"") + len(record.value) + record.cut
    room = max_record_bytes - RECORD_OVERHEAD_BYTES
    if size > room:
        message = (
            f"{size:,} bytes, over the {room:,} bytes a Kafka record may hold "
            f"(message limit {max_record_bytes:,} bytes)"
        )
        return LineReject(record.line_no, "too_large", message, size)
    if record.wrapped:
        return None
    try:
        record.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = record.value[exc.start : exc.end]
        message = f"not UTF-8 text: byte {exc.start + 1} is {bad.hex(' ')} ({exc.reason})"
        return LineReject(record.line_no, "invalid_utf8", message, size)
    control = _BINARY.search(record.value)
    if control:
        message = f"control byte {control.group().hex()} at byte {control.start() + 1}: not text"
        return LineReject(record.line_no, "binary", message, size)
    return None


@dataclasses.dataclass(frozen=True)
class Destinations:
    """Where a replay sends a file's records: --topic, else --family's topic, else the topic
    of the family its line names (a known one) or its payload's shape is recognised as, else
    the pipeline's unrouted topic."""

    pipeline: PipelineConf
    families: Collection[str]
    recognisers: tuple[Recogniser, ...] = ()
    topic: str | None = None
    family: str | None = None

    def topic_of(self, record: FileRecord) -> str:
        """The topic a sendable file record goes to."""
        if self.topic:
            return self.topic
        family = self.family or self.family_of(record)
        return self.pipeline.topic_for(family) if family else self.pipeline.default_topic

    def family_of(self, record: FileRecord) -> str | None:
        """The known family a record-file line names, or the one its payload's shape is."""
        if record.wrapped:
            return record.family if record.family in self.families else None
        return route_bytes(record.value, self.recognisers)


@dataclasses.dataclass
class ReplayResult:
    """What `replay_file` sent: records per topic, unrouted records, blank lines skipped, and
    the lines sent to the rejects topic instead (counted by reason, the first ones named)."""

    per_topic: dict[str, int]
    unrouted: int
    blank_lines: int
    rejected: Counter[str] = dataclasses.field(default_factory=Counter)
    first_rejects: list[LineReject] = dataclasses.field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.per_topic.values())

    def add_reject(self, reject: LineReject) -> None:
        self.rejected[reject.reason] += 1
        if len(self.first_rejects) < REJECTS_SHOWN:
            self.first_rejects.append(reject)


def _masked(value: bytes, redact: Callable[[str], str]) -> bytes:
    """The record's bytes with secret values masked (exactly as given when it holds none)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return value  # bytes replayed as recorded; bronze masks what they hide
    masked = redact(text)
    return value if masked == text else masked.encode("utf-8")


def _check_options(
    path: Path, families: Collection[str], topic: str | None, family: str | None
) -> None:
    """Nothing: raises GamelakeError for a missing file, or --topic and --family at odds."""
    if not path.is_file():
        raise GamelakeError(f"no file {path}", fix="give the path of a JSONL file")
    if topic and family:
        raise GamelakeError("both --topic and --family given", fix="give one of them")
    if family and family not in families:
        raise GamelakeError(f"unknown family {family!r}", fix=f"one of: {', '.join(families)}")


def _send(
    producer: KafkaProducer, topic: str, record: FileRecord, redact: Callable[[str], str]
) -> LineReject | None:
    """None once the record is queued, secrets masked; why not when the producer refuses it."""
    try:
        producer.send(topic, record.key, _masked(record.value, redact))
        return None
    except RecordTooLarge as exc:
        return LineReject(record.line_no, "too_large", str(exc), len(record.value))


def _reject_record(
    reject: LineReject, record: FileRecord, limit: int, redact: Callable[[str], str], origin: str
) -> bytes:
    """The rejects-topic record of a line: its reason and head, secrets masked, its place."""
    return raw_reject(
        reject.reason, [_line_error(reject)], record.value, raw_keep(limit), redact,
        iso_utc(datetime.now(UTC)),
        size=reject.size, family=record.family,
        origin={"command": "produce", "file": origin, "line": reject.line_no},
    )  # fmt: skip


def replay_file(
    bootstrap_servers: str,
    path: Path,
    pipeline: PipelineConf,
    families: Collection[str],
    topic: str | None = None,
    family: str | None = None,
    raw: bool = False,
    *,
    redact: Callable[[str], str],
    recognisers: tuple[Recogniser, ...] = (),
    replication_factor: int | None = None,
) -> ReplayResult:
    """Send every non-blank line of a file to Kafka (unwrapped record-file lines, or the line's
    own bytes) as `Destinations` says, secrets masked by `redact`, creating missing topics;
    unsendable lines (too large, not text) go to the pipeline's rejects topic, cut and masked,
    and the replay goes on."""
    _check_options(path, families, topic, family)
    to = Destinations(pipeline, families, recognisers, topic, family)
    limit = pipeline.max_record_bytes
    cap = limit * MAX_ESCAPE_RATIO

    def planned() -> Iterator[tuple[str, FileRecord, LineReject | None]]:
        for record in read_record_file(path, raw, cap):
            reject = check_record(record, limit)
            yield (pipeline.rejects_topic if reject else to.topic_of(record)), record, reject

    # A first pass finds the topics, so they exist with the pipeline's sizes before sending.
    # The rejects topic too: the producer can still refuse a record while sending.
    topics = {t for t, _, _ in planned()} | {pipeline.rejects_topic}
    create_topics(
        bootstrap_servers,
        topics,
        pipeline.topic_partitions,
        pipeline.topic_retention_hours,
        replication_factor,
    )
    producer = KafkaProducer(bootstrap_servers, "gamelake-produce", max_record_bytes=limit)
    result = ReplayResult({}, 0, count_blank_lines(path, cap))
    for to_topic, record, reject in planned():
        reject = reject or _send(producer, to_topic, record, redact)
        if reject is not None:
            result.add_reject(reject)
            rejected = _reject_record(reject, record, limit, redact, str(path))
            producer.send(pipeline.rejects_topic, None, rejected)
    per_topic = producer.close()
    # The rejects topic counts what was sent as it is, not the rejected lines' records.
    rejects = pipeline.rejects_topic
    per_topic[rejects] = per_topic.get(rejects, 0) - sum(result.rejected.values())
    result.per_topic = {t: n for t, n in per_topic.items() if n}
    result.unrouted = result.per_topic.get(pipeline.default_topic, 0) if not topic else 0
    return result

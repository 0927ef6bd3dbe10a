"""Where generated records go, and how record files are written and replayed.

Record file format (JSONL, one record a line, UTF-8):

    {"family": "telemetry", "key": "player_1", "value": "{\\"player_id\\":...}", "flags": ["late"]}

- `family`: the event family; it routes the record to the family's topic.
- `key`: the Kafka key as text, or null for none.
- `value`: the Kafka value, the raw payload exactly as it is sent, as a JSON string, even when
  it is no valid JSON (a malformed record).
- `value_b64` / `key_b64` replace `value` / `key` when the bytes are not valid UTF-8: base64 of
  the exact bytes.
- `flags` (optional, informational): `late`, `duplicate`, `malformed:<kind>`.

For hand-written files, `value` may also be a JSON object (the format of conf/demo samples),
sent as compact JSON, and `key` a number.

`gamelake produce` sends `value` (decoded) with `key` to the family's topic. A line that is not
such a wrapper is itself the payload and is sent byte for byte when it is text: a line that is
no UTF-8 or holds control bytes (binary), and any record over Kafka's message limit, goes to
the rejects topic instead (its head, with the reason; see gamelake.rejects), and the replay
goes on with the next line.
"""

from __future__ import annotations

import base64
import dataclasses
import multiprocessing
import queue
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from gamelake.errors import GamelakeError
from gamelake.generator import GeneratorOptions, Pacer, Record, generate
from gamelake.kafka_io import RECORD_OVERHEAD_BYTES
from gamelake.pipeline import PipelineConf

WRAPPER_KEYS = frozenset({"family", "key", "key_b64", "value", "value_b64", "flags"})
# A JSON escape (\u0001) takes 6 bytes of a line for 1 byte of payload: a line longer than
# 6x the message limit cannot unwrap to a record that fits, so only its head is read.
MAX_ESCAPE_RATIO = 6
# C0 control bytes besides tab and carriage return: no text line, no JSON, holds them raw.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


# --- the record file format ---------------------------------------------------------------------


def _text_or_b64(name: str, data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {name: None}
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_b64": base64.b64encode(data).decode("ascii")}


def record_flags(record: Record) -> list[str]:
    """The informational flags of a record, as written to a record file."""
    flags = []
    if record.late:
        flags.append("late")
    if record.duplicate:
        flags.append("duplicate")
    if record.malformed:
        flags.append(f"malformed:{record.malformed}")
    return flags


def encode_line(record: Record) -> bytes:
    """One record-file line (with its newline) for a generated record."""
    line: dict[str, Any] = {"family": record.family}
    line.update(_text_or_b64("key", record.key))
    line.update(_text_or_b64("value", record.value))
    flags = record_flags(record)
    if flags:
        line["flags"] = flags
    return orjson.dumps(line) + b"\n"


@dataclasses.dataclass(frozen=True)
class FileRecord:
    """One line of a record file: the payload to send, and its family when the line says."""

    line_no: int
    family: str | None
    key: bytes | None
    value: bytes
    wrapped: bool
    # Bytes of the line past its head, for a line longer than the reader's cap (else 0).
    cut: int = 0


def _field_bytes(item: dict[str, Any], name: str) -> tuple[bool, bytes | None]:
    """(ok, bytes) of a wrapper's text or base64 field; ok is False when it is ill-typed."""
    text, b64 = item.get(name), item.get(f"{name}_b64")
    if text is not None and b64 is not None:
        return False, None
    if b64 is not None:
        if not isinstance(b64, str):
            return False, None
        try:
            return True, base64.b64decode(b64, validate=True)
        except ValueError:
            return False, None
    if text is None:
        return True, None
    if isinstance(text, str):
        return True, text.encode("utf-8")
    if isinstance(text, bool):
        return False, None
    if isinstance(text, int):
        return True, str(text).encode()
    if isinstance(text, dict | list) and name == "value":
        # The demo samples' format carries the event itself: it is sent as compact JSON.
        return True, orjson.dumps(text)
    return False, None


def unwrap(line: bytes) -> tuple[str, bytes | None, bytes] | None:
    """(family, key, value) when the line is a record-file wrapper, else None."""
    if not line.startswith(b"{"):
        return None
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(item, dict) or not set(item) <= WRAPPER_KEYS:
        return None
    family = item.get("family")
    if not isinstance(family, str) or ("value" not in item and "value_b64" not in item):
        return None
    ok_key, key = _field_bytes(item, "key")
    ok_value, value = _field_bytes(item, "value")
    if not (ok_key and ok_value) or value is None:
        return None
    return family, key, value


def read_lines(fh: BinaryIO, cap: int = -1) -> Iterator[tuple[bytes, int]]:
    """Each line of a binary file without its ending, cut to `cap` bytes (-1: whole), and
    how many bytes were cut off: a huge line costs no more memory than the cap."""
    while line := fh.readline(cap):
        size, tail = len(line), line
        while not tail.endswith(b"\n") and (tail := fh.readline(1 << 20)):
            size += len(tail)
        ending = 2 if tail.endswith(b"\r\n") else 1 if tail.endswith(b"\n") else 0
        head = line[: size - ending] if size == len(line) else line
        yield head, size - ending - len(head)


def read_record_file(path: Path, raw: bool = False, cap: int = -1) -> Iterator[FileRecord]:
    """Every non-blank line of a file as a record: unwrapped when it is a record-file wrapper
    (unless `raw`), else the line's bytes as they are (without the line ending); a line over
    `cap` bytes is only its head, never unwrapped."""
    with path.open("rb") as fh:
        for line_no, (line, cut) in enumerate(read_lines(fh, cap), 1):
            if not cut and not line.strip():
                continue
            wrapped = None if raw or cut else unwrap(line)
            if wrapped is None:
                yield FileRecord(line_no, None, None, line, False, cut)
            else:
                family, key, value = wrapped
                yield FileRecord(line_no, family, key, value, True)


def count_blank_lines(path: Path, cap: int = -1) -> int:
    """How many lines of a file are empty or whitespace only (produce skips them)."""
    with path.open("rb") as fh:
        return sum(1 for line, cut in read_lines(fh, cap) if not cut and not line.strip())


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


def route(
    record: FileRecord,
    topic_for: Callable[[str], str],
    families: Iterable[str],
    default_topic: str,
    topic: str | None = None,
    family: str | None = None,
) -> str:
    """The topic a file record goes to: --topic, else --family's, else the family its line
    names when it is a known one, else the default (unrouted) topic."""
    if topic:
        return topic
    if family:
        return topic_for(family)
    if record.family is not None and record.family in families:
        return topic_for(record.family)
    return default_topic


# --- running the generator into a sink -----------------------------------------------------------


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
    from gamelake.kafka_io import KafkaSink

    sink = KafkaSink(bootstrap_servers, client_id="gamelake-generator", settings=producer_settings)
    send = sink.send

    def send_record(record: Record) -> None:
        send(topics[record.family], record.key, record.value)

    summary = drive(records, send_record, rate, duration_s, on_progress)
    summary.per_topic.update(sink.close())
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


# Rejected lines the replay names one by one; the rest are counted by reason.
REJECTS_SHOWN = 20


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
) -> ReplayResult:
    """Send every non-blank line of a file to Kafka (unwrapped record-file lines, or the line's
    own bytes), secrets masked by `redact`, creating missing topics; unroutable lines go to
    the pipeline's default topic, unsendable ones (too large, not text) to its rejects topic,
    cut and masked, and the replay goes on."""
    from gamelake.kafka_io import KafkaSink, RecordTooLarge, create_topics
    from gamelake.rejects import now_iso, raw_keep, raw_reject

    if not path.is_file():
        raise GamelakeError(f"no file {path}", fix="give the path of a JSONL file")
    if topic and family:
        raise GamelakeError("both --topic and --family given", fix="give one of them")
    if family and family not in families:
        raise GamelakeError(f"unknown family {family!r}", fix=f"one of: {', '.join(families)}")
    limit = pipeline.max_record_bytes
    cap = limit * MAX_ESCAPE_RATIO

    def routed() -> Iterator[tuple[str, FileRecord, LineReject | None]]:
        for record in read_record_file(path, raw, cap):
            reject = check_record(record, limit)
            if reject is not None:
                yield pipeline.rejects_topic, record, reject
            else:
                default = pipeline.default_topic
                yield (
                    route(record, pipeline.topic_for, families, default, topic, family),
                    record,
                    None,
                )

    # A first pass finds the topics, so they exist with the pipeline's sizes before sending.
    # The rejects topic too: the producer can still refuse a record while sending.
    planned = {t for t, _, _ in routed()} | {pipeline.rejects_topic}
    create_topics(
        bootstrap_servers, planned, pipeline.topic_partitions, pipeline.topic_retention_hours
    )
    sink = KafkaSink(bootstrap_servers, client_id="gamelake-produce", max_record_bytes=limit)
    result = ReplayResult({}, 0, count_blank_lines(path, cap))
    origin = str(path)
    for to, record, reject in routed():
        if reject is None:
            try:
                sink.send(to, record.key, _masked(record.value, redact))
                continue
            except RecordTooLarge as exc:
                reject = LineReject(record.line_no, "too_large", str(exc), len(record.value))
        result.add_reject(reject)
        sink.send(
            pipeline.rejects_topic,
            None,
            raw_reject(
                reject.reason, [_line_error(reject)], record.value,
                raw_keep(limit), redact, now_iso(), size=reject.size, family=record.family,
                origin={"command": "produce", "file": origin, "line": reject.line_no},
            ),
        )  # fmt: skip
    per_topic = sink.close()
    rejected = sum(result.rejected.values())
    per_topic[pipeline.rejects_topic] = per_topic.get(pipeline.rejects_topic, 0) - rejected
    result.per_topic = {t: n for t, n in per_topic.items() if n}
    result.unrouted = result.per_topic.get(pipeline.default_topic, 0) if not topic else 0
    return result


def _shard_worker(
    bootstrap_servers: str,
    contracts_dir: Path,
    options: GeneratorOptions,
    topics: dict[str, str],
    rate: float,
    duration_s: float | None,
    producer_settings: dict[str, str | int | bool] | None,
    progress: Any,
    results: Any,
) -> None:
    from gamelake.contracts import load_contracts

    def on_progress(n: int) -> None:
        progress.value = n

    try:
        records = generate(load_contracts(contracts_dir), options)
        summary = to_kafka(
            bootstrap_servers, records, topics, rate, duration_s, on_progress, producer_settings
        )
        results.put((options.shard, summary, None))
    except Exception as exc:  # reported by the parent, which raises it
        results.put((options.shard, None, str(exc)))


def to_kafka_sharded(
    bootstrap_servers: str,
    contracts_dir: Path,
    options: GeneratorOptions,
    topics: dict[str, str],
    workers: int,
    rate: float = 0.0,
    duration_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    producer_settings: dict[str, str | int | bool] | None = None,
) -> Summary:
    """Counts of the records `workers` processes sent to Kafka, each generating one shard
    (an independent world) of the run: the events and the rate are split between them."""
    from gamelake.contracts import load_contracts

    if workers <= 1:
        records = generate(load_contracts(contracts_dir), options)
        return to_kafka(
            bootstrap_servers, records, topics, rate, duration_s, on_progress, producer_settings
        )
    # Fresh interpreters: librdkafka's threads must not be inherited through fork.
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    counters = [ctx.Value("q", 0, lock=False) for _ in range(workers)]
    procs = []
    started = time.monotonic()
    for shard in range(workers):
        share = None
        if options.events is not None:
            share = options.events // workers + (shard < options.events % workers)
        shard_options = dataclasses.replace(options, shard=shard, events=share)
        proc = ctx.Process(
            target=_shard_worker,
            args=(
                bootstrap_servers, contracts_dir, shard_options, topics, rate / workers,
                duration_s, producer_settings, counters[shard], results,
            ),
            name=f"gamelake-generator-{shard}",
        )  # fmt: skip
        proc.start()
        procs.append(proc)
    total = Summary()
    errors = []
    pending = workers
    while pending:
        try:
            _, summary, error = results.get(timeout=0.25)
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                errors.append("a generator process died without a report")
                break
        else:
            pending -= 1
            if error:
                errors.append(error)
            else:
                total.merge(summary)
        if on_progress is not None:
            on_progress(sum(c.value for c in counters))
    for proc in procs:
        proc.join()
    if errors:
        raise GamelakeError(f"generator processes failed: {'; '.join(errors)}")
    total.seconds = time.monotonic() - started
    return total

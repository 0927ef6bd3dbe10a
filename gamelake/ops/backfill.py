"""Backfill: a batch read of a Kafka offset range into bronze that never duplicates a record.

Rows are shaped by `gamelake.bronze.to_bronze` (the stream's own shaping) and merged on their
Kafka coordinates (topic, partition, offset): a record bronze already holds, from the stream
or an earlier backfill, is not written again. An insert-only MERGE commits added files only,
so the silver stream reads the new rows as ordinary appends.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from gamelake.bronze import KAFKA_COORDINATES, to_bronze
from gamelake.errors import GamelakeError
from gamelake.io import KAFKA_READ_OPTIONS, write_delta_batch
from gamelake.ops import reset
from gamelake.ops.offsets import (
    Bound,
    Offsets,
    broker_offsets,
    check_retention,
    clamp_range,
    describe_gaps,
    offsets_json,
    parse_bound,
    range_size,
    resolve_with_broker,
    skipped_gaps,
    spark_range_options,
    start_bound_from,
)
from gamelake.ops.retry import DEFAULT_BACKOFF, Backoff, with_conflict_retry
from gamelake.secrets import SecretPolicy

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BackfillResult:
    offsets_in_range: int
    rows_read: int
    rows_added: int
    attempts: int

    @property
    def rows_already_there(self) -> int:
        return self.rows_read - self.rows_added


def read_kafka_range(
    spark: SparkSession, bootstrap_servers: str, start: Offsets, end: Offsets
) -> DataFrame:
    """Kafka-source rows of exactly [start, end) per partition (a bounded batch read)."""
    reader = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers)
        .options(**KAFKA_READ_OPTIONS)
    )
    for key, value in spark_range_options(start, end).items():
        reader = reader.option(key, value)
    # The range was checked against retention before reading; loud if it moved meanwhile.
    return reader.option("failOnDataLoss", "true").load()


def missing_from(incoming: DataFrame, existing: DataFrame) -> DataFrame:
    """The incoming bronze rows whose Kafka coordinates `existing` does not hold (each once)."""
    keys = list(KAFKA_COORDINATES)
    return incoming.dropDuplicates(keys).join(existing.select(*keys), keys, "left_anti")


def merge_condition(partition_by: Sequence[str]) -> str:
    """MERGE condition on the coordinates; `family` (a function of topic) lets Delta skip the
    other families' partitions."""
    cols = [*KAFKA_COORDINATES, *(c for c in partition_by if c == "family")]
    return " and ".join(f"t.{c} = s.{c}" for c in cols)


def range_app_id(start: Offsets, end: Offsets) -> str:
    """A txnAppId naming one range, so creating bronze from it twice writes once."""
    text = json.dumps([offsets_json(start), offsets_json(end)], sort_keys=True)
    return "gamelake.backfill." + hashlib.sha256(text.encode()).hexdigest()[:16]


def merged_rows(history: Sequence, before: int) -> int:
    """Rows our MERGE inserted, from the table history: the first MERGE after `before`
    (auto compaction may commit right behind it, so the latest commit is not always ours)."""
    ours = sorted(
        (h for h in history if h["version"] > before and h["operation"] == "MERGE"),
        key=lambda h: h["version"],
    )
    if not ours:
        return 0  # nothing matched the MERGE's insert clause: Delta may commit nothing
    return int((ours[0]["operationMetrics"] or {}).get("numTargetRowsInserted", 0))


def _table_exists(spark: SparkSession, path: Path) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, str(path))


def merge_into_bronze(
    spark: SparkSession,
    rows: DataFrame,
    target: Path,
    partition_by: Sequence[str],
    app_id: str,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> tuple[int, int]:
    """Insert the rows whose coordinates bronze lacks; returns (rows added, attempts).

    Retried whole on a conflict with the bronze stream's appends: the retry re-reads bronze,
    so rows the stream landed meanwhile are not added twice.
    """
    from delta.tables import DeltaTable

    def attempt() -> int:
        if not _table_exists(spark, target):
            write_delta_batch(
                rows.dropDuplicates(list(KAFKA_COORDINATES)), target, partition_by, app_id, 0
            )
            return int(DeltaTable.forPath(spark, str(target)).toDF().count())
        table = DeltaTable.forPath(spark, str(target))
        before = table.history(1).collect()[0]["version"]
        (
            table.alias("t")
            .merge(
                rows.dropDuplicates(list(KAFKA_COORDINATES)).alias("s"),
                merge_condition(partition_by),
            )
            .whenNotMatchedInsertAll()
            .execute()
        )
        return merged_rows(table.history(20).collect(), before)

    outcome = with_conflict_retry(attempt, f"backfill into {target}", backoff)
    return outcome.value, outcome.attempts


def backfill_bronze(
    spark: SparkSession,
    bootstrap_servers: str,
    start: Offsets,
    end: Offsets,
    topic_prefix: str,
    secrets: SecretPolicy | None,
    target: Path,
    partition_by: Sequence[str],
) -> BackfillResult:
    """Land Kafka's [start, end) in bronze, skipping records bronze already holds."""
    expected = range_size(start, end)
    if expected == 0:
        log.info("backfill: the range is empty, nothing to read")
        return BackfillResult(0, 0, 0, 0)
    source = read_kafka_range(spark, bootstrap_servers, start, end)
    # Persisted: the count and the merge must see the same rows (and the same ingest time).
    rows = to_bronze(source, topic_prefix, secrets).persist()
    try:
        read = rows.count()
        log.info("backfill: %d records read from Kafka (%d offsets in range)", read, expected)
        added, attempts = merge_into_bronze(
            spark, rows, target, partition_by, range_app_id(start, end)
        )
    finally:
        rows.unpersist()
    log.info("backfill: %d added to %s, %d were already there", added, target, read - added)
    return BackfillResult(expected, read, added, attempts)


# --- planning: the range to read, resolved and checked before Spark starts ----------------------


@dataclasses.dataclass(frozen=True)
class BackfillPlan:
    """An explicit [start, end) per partition, with the retention gaps found (if forced)."""

    start: Offsets
    end: Offsets
    earliest: Offsets
    retention_gaps: tuple
    skipped_gaps: tuple = ()

    @property
    def size(self) -> int:
        return range_size(self.start, self.end)

    def describe(self) -> str:
        s, e = clamp_range(self.start, self.end)
        parts = [f"{t}[{p}] {s[t][p]}..{e[t][p]}" for t in sorted(s) for p in sorted(s[t])]
        shown = ", ".join(parts[:8]) + (f" and {len(parts) - 8} more" if len(parts) > 8 else "")
        return f"{self.size} offsets in {len(parts)} partitions" + (f": {shown}" if parts else "")


def plan_range(
    start: Offsets,
    end: Offsets,
    earliest: Offsets,
    start_bound,
    force: bool,
    committed: Offsets | None = None,
) -> BackfillPlan:
    """Check a resolved range: refuse starts retention deleted, and (for a reset) starts past
    what the old checkpoint committed, unless `force`."""
    gaps = check_retention(start_bound, start, earliest, force)
    skipped = skipped_gaps(start, committed) if committed else []
    if skipped and not force:
        n = sum(g.records for g in skipped)
        raise GamelakeError(
            f"the new start is past what the stream had committed, so {n} records would never "
            f"land: {describe_gaps(skipped)}",
            fix="start at or before the committed offsets (the default), or pass --force "
            "to skip them",
        )
    return BackfillPlan(start, end, earliest, tuple(gaps), tuple(skipped))


def plan_backfill(
    bootstrap_servers: str,
    topic_pattern: str,
    start_bound,
    end_bound,
    force: bool = False,
    committed: Offsets | None = None,
) -> BackfillPlan:
    """The explicit range of a backfill or reset, from the bounds and what Kafka holds now."""
    earliest, latest = broker_offsets(bootstrap_servers, topic_pattern)
    if not latest:
        raise GamelakeError(
            f"no Kafka topic matches {topic_pattern!r}",
            fix="check --topic-prefix, or `gamelake topics list`",
        )
    start = resolve_with_broker(bootstrap_servers, earliest, latest, start_bound)
    end = resolve_with_broker(bootstrap_servers, earliest, latest, end_bound)
    # A start given as explicit offsets names its topics; the end follows the same topics.
    end = {t: parts for t, parts in end.items() if t in start}
    return plan_range(start, end, earliest, start_bound, force, committed)


START_FIX = "give --earliest, --from-timestamp or --from-offsets"


@dataclasses.dataclass(frozen=True)
class BackfillRequest:
    """A backfill as asked for: a start (at most one of earliest, a time, offsets; a reset may
    give none and continue where its old checkpoint stopped), an end and the guard's override;
    with reset_checkpoint, the bronze stream's checkpoint is then replaced."""

    earliest: bool = False
    from_timestamp: str | None = None
    from_offsets: str | None = None
    to: str = "latest"
    force: bool = False
    reset_checkpoint: bool = False

    def start(self) -> Bound | None:
        """The start given; None for a reset without one, refused for a backfill."""
        bound = start_bound_from(self.earliest, self.from_timestamp, self.from_offsets)
        if bound is None and not self.reset_checkpoint:
            raise GamelakeError("no start given", fix=START_FIX)
        return bound


def plan_request(
    bootstrap_servers: str, topic_pattern: str, request: BackfillRequest, checkpoint: Path
) -> tuple[Bound, BackfillPlan]:
    """The request's start and its checked range; a reset starts by default where the bronze
    checkpoint stopped, and may not skip what it never landed."""
    committed = reset.committed(checkpoint) if request.reset_checkpoint else None
    bound = request.start()
    if bound is None:
        bound = reset.default_start(committed, broker_offsets(bootstrap_servers, topic_pattern)[1])
        if bound is None:
            raise GamelakeError(
                f"no committed checkpoint at {checkpoint} to continue from", fix=START_FIX
            )
    plan = plan_backfill(
        bootstrap_servers, topic_pattern, bound, parse_bound(request.to), request.force, committed
    )
    for gap in plan.retention_gaps:
        log.warning("--force: %s[%d] starts at %d, not %d (retention)",
                    gap.topic, gap.partition, gap.available, gap.wanted)  # fmt: skip
    return bound, plan


def dry_run_lines(plan: BackfillPlan, request: BackfillRequest, checkpoint: Path) -> list[str]:
    """What a dry run says it would do."""
    lines = [f"would backfill {plan.describe()}"]
    if request.reset_checkpoint:
        lines.append(f"then start a new checkpoint at {checkpoint}")
    return lines

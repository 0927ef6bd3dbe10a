"""Spark's Kafka and Delta reads and writes the streaming and batch stages share: the Kafka
source, Delta stream and batch writers, the ops session, and a query's progress counts. Paths
and servers are arguments, so tests point them elsewhere."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)


# Spark reads Kafka up to known end offsets and never waits for new records, but a fetch that
# finds no data is held by the broker for fetch.max.wait.ms (500 ms by default) before it is
# answered, and a batch that reads to a partition's end, as every batch of a caught-up stream
# does, paid that wait: 500k records read to the end took 5.2-5.5 s against 0.6-1.2 s for the
# same number elsewhere in the log, and 1.0-1.1 s with a 50 ms wait (docs/hot-path.md).
KAFKA_READ_OPTIONS = {"kafka.fetch.max.wait.ms": "50"}


def read_kafka_stream(
    spark: SparkSession,
    bootstrap_servers: str,
    topic_pattern: str,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
) -> DataFrame:
    """Kafka-source rows (key, value, topic, partition, offset, timestamp) of matching topics."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers)
        .option("subscribePattern", topic_pattern)
        .option("startingOffsets", starting_offsets)
        # Loud on lost offsets (retention, deleted topic): silence would break accounting.
        .option("failOnDataLoss", "true")
        .options(**KAFKA_READ_OPTIONS)
    )
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    return reader.load()


AUTO_COMPACT = "spark.databricks.delta.autoCompact.enabled"


@functools.cache
def ops_session(spark: SparkSession) -> SparkSession:
    """A session on `spark`'s context whose Delta appends skip auto compaction: for the
    lake's operator tables (ops.dq_results, ops.stream_progress), a few rows per commit.

    Delta 4.4's auto compaction in its default mode ran an OPTIMIZE after nearly every
    commit of such a table (2-3 files each time), doubling the cost of a 10-row append from
    ~1 s to ~2.5 s; the session's tuning (gamelake.spark) now holds it to minNumFiles, and
    these few-row tables are still left to `gamelake maintain optimize`.
    """
    session = spark.newSession()
    session.conf.set(AUTO_COMPACT, "false")
    return session


def trigger_kwargs(once: bool, interval: str) -> dict:
    """writeStream.trigger arguments: drain what is there and stop, or run every `interval`."""
    return {"availableNow": True} if once else {"processingTime": interval}


def write_delta_stream(
    df: DataFrame,
    path: Path,
    checkpoint: Path,
    partition_by: Sequence[str],
    query_name: str,
    once: bool,
    interval: str = "10 seconds",
) -> StreamingQuery:
    """Append a stream to a Delta table; the Delta sink commits each batch id exactly once."""
    return (
        df.writeStream.format("delta")
        .outputMode("append")
        .option("checkpointLocation", str(checkpoint))
        .partitionBy(*partition_by)
        .queryName(query_name)
        .trigger(**trigger_kwargs(once, interval))
        .start(str(path))
    )


def for_each_batch(
    df: DataFrame,
    handler,
    checkpoint: Path,
    query_name: str,
    once: bool,
    interval: str = "10 seconds",
) -> StreamingQuery:
    """Run `handler(batch_df, batch_id)` on every micro-batch of a stream."""
    return (
        df.writeStream.foreachBatch(handler)
        .option("checkpointLocation", str(checkpoint))
        .queryName(query_name)
        .trigger(**trigger_kwargs(once, interval))
        .start()
    )


def rows_read(query: StreamingQuery) -> int:
    """Rows a finished query read over the batches Spark still remembers."""
    return sum(int(p.get("numInputRows", 0)) for p in query.recentProgress)


def batches_run(query: StreamingQuery) -> tuple[int, int]:
    """(micro-batches with input, milliseconds they took) of a finished query, over the
    batches Spark still remembers (the last 100 by default)."""
    ran = [p for p in query.recentProgress if p.get("numInputRows")]
    return len(ran), sum(int((p.get("durationMs") or {}).get("triggerExecution", 0)) for p in ran)


def read_delta_stream(
    spark: SparkSession,
    path: Path,
    max_files_per_trigger: int | None,
    max_bytes_per_trigger: str | None = None,
) -> DataFrame:
    """A Delta table as a stream of its appends, in micro-batches bounded by files and bytes
    (whichever is reached first; None: no bound)."""
    reader = spark.readStream.format("delta")
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_trigger))
    if max_bytes_per_trigger:
        reader = reader.option("maxBytesPerTrigger", max_bytes_per_trigger)
    return reader.load(str(path))


def delta_append(df: DataFrame, partition_by: Sequence[str], **options: str) -> DataFrameWriter:
    """A writer appending `df` to a Delta table with `options` (txnAppId, userMetadata...)."""
    writer = (
        df.write.format("delta")
        .mode("append")
        # New contract fields become new columns instead of failing the stream.
        .option("mergeSchema", "true")
        .partitionBy(*partition_by)
    )
    return writer.options(**options)


def write_delta_batch(
    df: DataFrame, path: Path, partition_by: Sequence[str], app_id: str, version: int
) -> None:
    """Append a micro-batch to a Delta table at most once per (app_id, version).

    Delta skips a write whose txnVersion is not above the last one committed for txnAppId,
    so a batch replayed after a crash never doubles its rows.
    """
    delta_append(df, partition_by, txnAppId=app_id, txnVersion=str(version)).save(str(path))

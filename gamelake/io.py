"""Sources and sinks: the only places jobs touch Kafka and Delta, so tests swap paths, not code."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)


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
    )
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    return reader.load()


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


def log_progress(query: StreamingQuery) -> int:
    """Log each finished micro-batch of `query`; returns the rows it read in total."""
    total = 0
    for p in query.recentProgress:
        rows = int(p.get("numInputRows", 0))
        total += rows
        log.info(
            "%s batch %s: %d rows in %d ms",
            p.get("name"),
            p.get("batchId"),
            rows,
            p.get("durationMs", {}).get("triggerExecution", 0),
        )
    return total

"""Maintenance on a table a stream keeps appending to: compaction must cut the file count, lose
no row, keep the table readable by Trino 476, and land in ops.maintenance.

The table is a private one under the lake's _tests area; the stream is Spark's rate source
appending into it with a short trigger interval (many small files, concurrent commits).
"""

from __future__ import annotations

import shutil
import time
import uuid

import pytest
from pyspark.sql import functions as F

from gamelake.conventions import table_path
from gamelake.ops import maintenance as m
from gamelake.ops.maintenance_conf import TableMaintenance
from gamelake.ops.retry import Backoff

pytestmark = pytest.mark.integration


@pytest.fixture()
def area(settings):
    path = settings.paths.lake / "_tests" / f"ops-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _start_appends(spark, path, checkpoint):
    """A stream appending ~20 rows every 0.5 s, one small file per batch and partition."""
    source = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", 40)
        .load()
        .select(
            F.col("value").alias("event_seq"),
            F.col("timestamp").alias("event_ts"),
            (F.col("value") % 2).cast("string").alias("shard"),
            (F.col("value") % 97).alias("player_id"),
        )
    )
    return (
        source.writeStream.format("delta")
        .option("checkpointLocation", str(checkpoint))
        .partitionBy("shard")
        .trigger(processingTime="500 milliseconds")
        .start(str(path))
    )


def test_optimize_while_a_stream_appends_cuts_files_and_loses_nothing(spark, settings, area):
    lake = area / "lake"
    path = table_path(lake, "silver", "rate_events")
    # The streams' auto compaction would merge the small files first; here we want ours to.
    spark.conf.set("spark.databricks.delta.autoCompact.enabled", "false")
    query = _start_appends(spark, path, area / "checkpoint")
    try:
        deadline = time.monotonic() + 240
        while not path.exists() or m.live_footprint(spark, path).files < 20:
            assert time.monotonic() < deadline, "the stream wrote too few files"
            assert query.isActive, query.exception()
            time.sleep(1)
        protocol = m.protocol(spark, path)
        settings_t = TableMaintenance("silver.rate_events", zorder=("player_id",))
        # Compaction runs while the stream keeps committing beside it.
        record = m.optimize_table(spark, path, settings_t, backoff=Backoff(attempts=10))
        assert query.isActive, query.exception()
        m.record_history(spark, lake, m.new_run_id(), [record])
        time.sleep(2)  # let a few more appends land after the optimize commit
    finally:
        query.stop()
        spark.conf.unset("spark.databricks.delta.autoCompact.enabled")

    print(m.summary_line(record))
    assert record.before.files >= 20
    # The optimize rewrote each partition's files into one; appends after it add a few.
    assert record.after.files < record.before.files / 2
    assert record.metrics["numFilesRemoved"] > record.metrics["numFilesAdded"] > 0

    # Every appended row is there exactly once: the rate source numbers them 0..n-1.
    df = spark.read.format("delta").load(str(path))
    stats = df.agg(F.count("*").alias("n"), F.countDistinct("event_seq").alias("d"),
                   F.max("event_seq").alias("top")).first()  # fmt: skip
    assert stats["n"] == stats["d"] == stats["top"] + 1

    # Compaction changes no protocol, so Trino 476 still reads the table.
    assert m.protocol(spark, path) == protocol
    assert m.unreadable_by_trino(*m.protocol(spark, path)) == []

    history = spark.read.format("delta").load(str(table_path(lake, "ops", m.HISTORY_TABLE)))
    row = history.where("operation = 'optimize'").first()
    assert row["table_name"] == "silver.rate_events"
    assert (row["files_before"], row["files_after"]) == (record.before.files, record.after.files)
    assert row["bytes_before"] > 0 and row["started_at"] is not None


def test_vacuum_after_optimize_deletes_the_replaced_files(spark, area):
    path = table_path(area / "lake", "silver", "small")
    for i in range(6):
        spark.range(i * 10, i * 10 + 10).write.format("delta").mode("append").save(str(path))
    m.optimize_table(spark, path, TableMaintenance("silver.small"))
    stored = m.stored_footprint(spark, path)
    assert stored.files >= 7  # six appended files and the compacted one
    record = m.vacuum_table(spark, path, "silver.small", retain_hours=0)
    assert record.before == stored
    assert record.after.files == m.live_footprint(spark, path).files == 1
    assert record.after.bytes < record.before.bytes
    assert spark.read.format("delta").load(str(path)).count() == 60

"""Stream progress for operators: a listener that logs every micro-batch of every query
(rows, duration, Kafka lag) and keeps the rows until they are appended to ops.stream_progress."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQueryListener

from gamelake.conventions import table_path
from gamelake.io import ops_session

log = logging.getLogger(__name__)

# The line onQueryProgress logs for each micro-batch, for whoever reads the logs (bench).
BATCH_LINE = re.compile(r"\b(\w+) batch (\d+): (\d+) rows in (\d+) ms")

PROGRESS_TABLE = "stream_progress"
PROGRESS_SCHEMA = (
    "stage string, app_id string, batch_id long, table_name string, rows_in long, "
    "rows_out long, duration_ms long, kafka_lag long"
)


def kafka_lag(progress: dict[str, Any]) -> int | None:
    """How far the Kafka source was behind the topics' ends after a batch (max partition)."""
    for source in progress.get("sources", []):
        lag = (source.get("metrics") or {}).get("maxOffsetsBehindLatest")
        if lag is not None:
            return int(float(lag))
    return None


def progress_row(progress: dict[str, Any]) -> tuple | None:
    """A stream_progress row for a query's progress event; None for a query we do not record.

    Silver records its own per-table rows inside its batch handler; this covers the
    queries that write through a plain sink (bronze).
    """
    name = progress.get("name") or ""
    if not name.startswith("bronze"):
        return None
    rows = int(progress.get("numInputRows", 0))
    return (
        "bronze",
        str(progress.get("id")),
        int(progress.get("batchId", -1)),
        f"bronze.{name.removeprefix('bronze_')}",
        rows,
        rows,
        int((progress.get("durationMs") or {}).get("triggerExecution", 0)),
        kafka_lag(progress),
    )


def progress_frame(spark: SparkSession, rows: list[tuple]):
    """ops.stream_progress rows (PROGRESS_SCHEMA order) as one file's DataFrame, stamped
    now; in the operator tables' session, so appending it runs no auto compaction."""
    # The stamp travels with the rows: `current_timestamp()` becomes a literal in the write's
    # generated code, new code to compile for every micro-batch.
    now = dt.datetime.now(dt.UTC)
    return (
        ops_session(spark)
        .createDataFrame([(*row, now) for row in rows], f"{PROGRESS_SCHEMA}, recorded_at timestamp")
        .coalesce(1)
    )


class ProgressRecorder(StreamingQueryListener):
    """Logs each finished micro-batch and buffers rows for ops.stream_progress."""

    def __init__(self) -> None:
        self._rows: list[tuple] = []
        self._lock = threading.Lock()
        self._progressed = threading.Condition(self._lock)
        self._last_batch: dict[str, int] = {}  # query id -> last batch id seen

    def onQueryStarted(self, event) -> None:
        log.info("stream %s started (id %s)", event.name, event.id)

    def onQueryProgress(self, event) -> None:
        progress = json.loads(event.progress.json)
        lag = kafka_lag(progress)
        log.info(
            "%s batch %s: %s rows in %s ms%s",
            progress.get("name"),
            progress.get("batchId"),
            progress.get("numInputRows"),
            (progress.get("durationMs") or {}).get("triggerExecution"),
            f", Kafka lag {lag}" if lag is not None else "",
        )
        row = progress_row(progress)
        with self._progressed:
            if row is not None and row[4] > 0:
                self._rows.append(row)
            query = str(progress.get("id"))
            batch = int(progress.get("batchId", -1))
            self._last_batch[query] = max(batch, self._last_batch.get(query, -1))
            self._progressed.notify_all()

    def caught_up(self, query, timeout_s: float = 10.0) -> bool:
        """Whether the listener has seen `query`'s last progress event, waiting up to
        `timeout_s`: events arrive on Spark's listener bus after the batch is done, so a job
        that stops right after a query ends would drop the last one."""
        last = query.lastProgress
        if not last:
            return True
        wanted = int(last.get("batchId", -1))
        with self._progressed:
            return self._progressed.wait_for(
                lambda: self._last_batch.get(str(query.id), -1) >= wanted, timeout_s
            )

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        if event.exception:
            log.error("stream %s failed: %s", event.id, event.exception.splitlines()[0])
        else:
            log.info("stream %s stopped", event.id)

    def flush(self, spark: SparkSession, lake: Path) -> int:
        """Append the buffered rows to ops.stream_progress; returns how many."""
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            (
                progress_frame(spark, rows)
                .write.format("delta")
                .mode("append")
                .option("mergeSchema", "true")
                .save(str(table_path(lake, "ops", PROGRESS_TABLE)))
            )
        return len(rows)

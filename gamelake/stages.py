"""A job's stages wired from its context: bronze, silver and streaming gold started with the
context's topics, paths, checkpoints and options, and batch gold rebuilt behind its gate. The
one place that calls gamelake.streams' starters for the jobs."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from gamelake.dq.gate import SilverGate, TableGate
from gamelake.dq.results import GateFailed
from gamelake.gold import batch as gold_batch
from gamelake.gold import streaming as gold_streaming
from gamelake.jobcontext import JobContext
from gamelake.jobgates import warm_up
from gamelake.progress import ProgressRecorder
from gamelake.spark import build_session
from gamelake.streams import (
    StreamOptions,
    app_born_ms,
    checkpoint_app_id,
    start_bronze,
    start_silver,
)

log = logging.getLogger(__name__)

STAGES = ("bronze", "silver", "gold", "gold_batch")


def rebuild_batch_gold(
    spark: SparkSession, lake: Path, gate: TableGate | None, tables: Sequence[str] | None = None
) -> tuple[dict[str, int | None], GateFailed | None]:
    """Rebuild batch gold: the rows of each table written (None: no silver yet), and the gate
    failure that held tables back (they keep their published version), if any."""
    try:
        return gold_batch.rebuild(spark, lake, tables, gate=gate), None
    except GateFailed as held:
        return held.written, held


@dataclasses.dataclass
class Stages:
    """A job's stages on one Spark session, each started from the job's context."""

    spark: SparkSession
    job: JobContext
    silver_gate: SilverGate | None = None
    publish_gate: TableGate | None = None
    recorder: ProgressRecorder | None = None

    def bronze(self, options: StreamOptions | None = None) -> StreamingQuery:
        """Kafka -> bronze on the bronze checkpoint (with the job's options unless given)."""
        job = self.job
        return start_bronze(
            self.spark, job.settings.kafka.bootstrap_servers, job.topic_pattern, job.topic_prefix,
            job.secret_policy(), job.bronze_path, job.pipeline.bronze_partition_by,
            job.bronze_checkpoint, options or job.options,
        )  # fmt: skip

    def silver(self) -> StreamingQuery:
        """Bronze -> silver and quarantine, behind the silver gate."""
        job = self.job
        return start_silver(
            self.spark, job.contracts, job.lake, job.bronze_path, job.checkpoints / "silver",
            job.options, job.rejects_family, self.silver_gate, job.silver_zorder(),
        )  # fmt: skip

    def gold(self, running: dict[str, StreamingQuery]) -> list[StreamingQuery]:
        """Start the streaming gold tables whose silver source exists and that `running` lacks
        (added to it)."""
        job, started = self.job, []
        options = job.gold_options
        self.spark.conf.set(gold_streaming.NO_DATA_BATCHES_CONF, "false")
        for stream in gold_streaming.ready_streams(job.lake, running):
            checkpoint = job.checkpoints / "gold" / stream.storage
            query = gold_streaming.start_gold_stream(
                self.spark, stream, job.lake, checkpoint,
                checkpoint_app_id(checkpoint, f"gold.{stream.storage}"),
                options.once, options.interval, options.max_files_per_trigger,
                options.max_bytes_per_trigger, app_born_ms(checkpoint),
            )  # fmt: skip
            running[stream.table] = query
            started.append(query)
        return started

    def start(self, stage: str) -> list[StreamingQuery]:
        """The queries of a streaming stage (bronze, silver or gold), started."""
        starters = {
            "bronze": lambda: [self.bronze()],
            "silver": lambda: [self.silver()],
            "gold": lambda: self.gold({}),
        }
        return starters[stage]()

    def batch_gold(self) -> tuple[dict[str, int | None], GateFailed | None]:
        """Batch gold rebuilt behind the publish gate (see rebuild_batch_gold)."""
        return rebuild_batch_gold(self.spark, self.job.lake, self.publish_gate)

    def flush_progress(self) -> None:
        """Append the recorded micro-batch progress to ops.stream_progress."""
        if self.recorder is not None:
            self.recorder.flush(self.spark, self.job.lake)


def open_stages(
    job: JobContext,
    app_name: str,
    silver_gate: SilverGate | None = None,
    publish_gate: TableGate | None = None,
    record_progress: bool = True,
) -> Stages:
    """The job's stages on a new Spark session, the gates warmed up before it is built and
    (with record_progress) every micro-batch's progress recorded."""
    warm_up(silver_gate, publish_gate)
    spark = build_session(job.settings, app_name=app_name)
    recorder = None
    if record_progress:
        recorder = ProgressRecorder()
        spark.streams.addListener(recorder)
    return Stages(spark, job, silver_gate, publish_gate, recorder)

"""Pipeline job: bronze, silver and gold in one Spark application (one JVM for a 2-core laptop).

    .venv/bin/gamelake spark-conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/pipeline.py --once

or `gamelake run --once` (drain Kafka, then stop) / `gamelake run` (keep streaming).
With --once the stages run one after the other, so silver sees everything bronze landed and
gold everything silver wrote; the last stage (gold_batch) rebuilds the batch gold tables.
Silver batches and batch gold tables pass the quality gates of conf/rules (--no-gates: not).
Otherwise the streams run side by side until stopped: a gold stream starts once its silver
table exists, and batch gold is rebuilt every --gold-batch-every seconds.
"""

from __future__ import annotations

import logging
import sys
import time

from gamelake import jobargs
from gamelake.dq.results import GateFailed
from gamelake.gold import batch as gold_batch
from gamelake.gold import streaming as gold_streaming
from gamelake.io import batches_run, rows_read
from gamelake.progress import ProgressRecorder
from gamelake.spark import build_session
from gamelake.streams import checkpoint_app_id, start_bronze, start_silver

log = logging.getLogger("gamelake.jobs.pipeline")
STAGES = ("bronze", "silver", "gold", "gold_batch")


def parse_args(argv: list[str] | None = None):
    parser = jobargs.stream_parser("pipeline", __doc__.splitlines()[0])
    jobargs.add_kafka_args(parser)
    jobargs.add_silver_args(parser)
    jobargs.add_gate_args(parser)
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma list of stages to run, of {', '.join(STAGES)}")  # fmt: skip
    parser.add_argument("--gold-batch-every", type=float, default=600.0,
                        help="seconds between batch gold rebuilds (0: never)")  # fmt: skip
    args = parser.parse_args(argv)
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    jobargs.configure_logging()
    job = jobargs.resolve(args)
    silver_gate = jobargs.silver_gate_of(job, args.gates)
    publish_gate = jobargs.publish_gate_of(job.settings, args.gates)
    jobargs.warm_up(silver_gate, publish_gate)
    spark = build_session(job.settings, app_name="gamelake-pipeline")

    def bronze():
        return start_bronze(
            spark, job.settings.kafka.bootstrap_servers, job.topic_pattern, job.topic_prefix,
            jobargs.secret_policy(job), job.bronze_path, job.pipeline.bronze_partition_by,
            job.checkpoints / "bronze" / job.pipeline.bronze_table, job.options,
        )  # fmt: skip

    def silver():
        return start_silver(
            spark,
            job.contracts,
            job.lake,
            job.bronze_path,
            job.checkpoints / "silver",
            job.options,
            job.rejects_family,
            silver_gate,
        )

    def gold(running: dict | None = None) -> list:
        """Start the streaming gold tables whose silver source exists (not yet in `running`)."""
        started = []
        spark.conf.set(gold_streaming.NO_DATA_BATCHES_CONF, "false")
        for stream in gold_streaming.ready_streams(job.lake, running or {}):
            checkpoint = job.checkpoints / "gold" / stream.table
            query = gold_streaming.start_gold_stream(
                spark, stream, job.lake, checkpoint,
                checkpoint_app_id(checkpoint, f"gold.{stream.table}"),
                job.options.once, job.options.interval, job.options.max_files_per_trigger,
                job.options.max_bytes_per_trigger,
            )  # fmt: skip
            if running is not None:
                running[stream.table] = query
            started.append(query)
        return started

    def rebuild_batch_gold() -> None:
        """Rebuild batch gold; a table its gate holds back keeps its published version."""
        try:
            written = gold_batch.rebuild(spark, job.lake, gate=publish_gate)
        except GateFailed as held:
            if job.options.once:
                raise
            # The streams go on; the held table is retried at the next rebuild.
            log.error("%s", held)
            written = held.written
        log.info("batch gold: %s", ", ".join(f"{t}={n}" for t, n in written.items()))

    recorder = ProgressRecorder()
    spark.streams.addListener(recorder)
    starters = {"bronze": lambda: [bronze()], "silver": lambda: [silver()], "gold": gold}
    if job.options.once:
        for stage in args.stages:
            if stage == "gold_batch":
                rebuild_batch_gold()
                continue
            for query in starters[stage]():
                query.awaitTermination()
                if not recorder.caught_up(query):
                    log.warning("%s: its last batch's progress did not arrive", query.name)
                batches, batch_ms = batches_run(query)
                log.info("%s done: %d records read in %d batches (%d ms in batches)",
                         query.name, rows_read(query), batches, batch_ms)  # fmt: skip
            recorder.flush(spark, job.lake)
        return 0
    queries = [
        q for stage in args.stages if stage in ("bronze", "silver") for q in starters[stage]()
    ]
    gold_running: dict = {}
    last_rebuild = time.monotonic()
    log.info("streaming %s; stop with Ctrl-C", ", ".join(args.stages))
    while all(q.isActive for q in queries + list(gold_running.values())):
        if "gold" in args.stages:
            queries_started = gold(gold_running)
            if queries_started:
                log.info("gold streams running: %s", ", ".join(sorted(gold_running)))
        # Look for new silver tables often until every gold stream runs.
        waiting = "gold" in args.stages and len(gold_running) < len(gold_streaming.GOLD_STREAMS)
        spark.streams.awaitAnyTermination(timeout=5 if waiting else 30)
        recorder.flush(spark, job.lake)
        every = args.gold_batch_every
        if "gold_batch" in args.stages and every > 0 and time.monotonic() - last_rebuild > every:
            rebuild_batch_gold()
            last_rebuild = time.monotonic()
    for q in queries + list(gold_running.values()):
        if q.exception():
            raise q.exception()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pipeline job: bronze and silver in one Spark application (one JVM for a 2-core laptop).

    .venv/bin/gamelake spark-conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/pipeline.py --once

or `gamelake run --once` (drain Kafka, then stop) / `gamelake run` (keep streaming).
With --once the stages run one after the other, so silver sees everything bronze landed;
otherwise both stream side by side until stopped.
"""

from __future__ import annotations

import logging
import sys

from gamelake import jobargs
from gamelake.io import rows_read
from gamelake.progress import ProgressRecorder
from gamelake.spark import build_session
from gamelake.streams import start_bronze, start_silver

log = logging.getLogger("gamelake.jobs.pipeline")
STAGES = ("bronze", "silver")


def parse_args(argv: list[str] | None = None):
    parser = jobargs.stream_parser("pipeline", __doc__.splitlines()[0])
    jobargs.add_kafka_args(parser)
    jobargs.add_silver_args(parser)
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma list of stages to run, of {', '.join(STAGES)}")  # fmt: skip
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
    spark = build_session(job.settings, app_name="gamelake-pipeline")

    def bronze():
        return start_bronze(
            spark, job.settings.kafka.bootstrap_servers, job.topic_pattern, job.topic_prefix,
            jobargs.secret_keys(job.contracts), job.bronze_path, job.pipeline.bronze_partition_by,
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
        )

    recorder = ProgressRecorder()
    spark.streams.addListener(recorder)
    starters = {"bronze": bronze, "silver": silver}
    if job.options.once:
        for stage in args.stages:
            query = starters[stage]()
            query.awaitTermination()
            recorder.flush(spark, job.lake)
            log.info("%s done: %d records read", stage, rows_read(query))
        return 0
    queries = [starters[stage]() for stage in args.stages]
    log.info("streaming %s; stop with Ctrl-C", ", ".join(args.stages))
    while all(q.isActive for q in queries):
        spark.streams.awaitAnyTermination(timeout=30)
        recorder.flush(spark, job.lake)
    for q in queries:
        if q.exception():
            raise q.exception()
    return 0


if __name__ == "__main__":
    sys.exit(main())

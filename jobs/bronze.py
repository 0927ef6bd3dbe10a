"""Bronze job: land every record of the family topics, as produced, in the bronze Delta table.

Submit it with the project's Spark settings (jars, Delta, sizes of the profile):

    .venv/bin/gamelake spark-conf          # writes .gamelake/spark/<profile>.conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/bronze.py --once

or through the CLI, which does the same: `gamelake submit bronze --once`.
"""

from __future__ import annotations

import logging
import sys

from gamelake import jobargs
from gamelake.io import rows_read
from gamelake.progress import ProgressRecorder
from gamelake.spark import build_session
from gamelake.streams import start_bronze

log = logging.getLogger("gamelake.jobs.bronze")


def parse_args(argv: list[str] | None = None):
    parser = jobargs.stream_parser("bronze", __doc__.splitlines()[0])
    jobargs.add_kafka_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    jobargs.configure_logging()
    job = jobargs.resolve(args)
    spark = build_session(job.settings, app_name="gamelake-bronze")
    recorder = ProgressRecorder()
    spark.streams.addListener(recorder)
    query = start_bronze(
        spark,
        job.settings.kafka.bootstrap_servers,
        job.topic_pattern,
        job.topic_prefix,
        jobargs.secret_policy(job),
        job.bronze_path,
        job.pipeline.bronze_partition_by,
        job.checkpoints / "bronze" / job.pipeline.bronze_table,
        job.options,
    )
    log.info("bronze stream %s -> %s", query.id, job.bronze_path)
    query.awaitTermination()
    recorder.flush(spark, job.lake)
    log.info("bronze done: %d records landed in %s", rows_read(query), job.bronze_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

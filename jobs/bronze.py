"""Bronze job: land every record of the family topics, as produced, in the bronze Delta table.

Submit it with the project's Spark settings (jars, Delta, sizes of the profile):

    .venv/bin/gamelake spark-conf          # writes .gamelake/spark/<profile>.conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/bronze.py --once

or through the CLI, which does the same: `gamelake submit bronze --once`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gamelake import jobargs
from gamelake.io import rows_read
from gamelake.jobcontext import resolve
from gamelake.jobmain import run_job
from gamelake.stages import open_stages

log = logging.getLogger("gamelake.jobs.bronze")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = jobargs.stream_parser("bronze", __doc__.splitlines()[0])
    jobargs.add_kafka_args(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    job = resolve(args)
    stages = open_stages(job, "gamelake-bronze")
    query = stages.bronze()
    log.info("bronze stream %s -> %s", query.id, job.bronze_path)
    query.awaitTermination()
    stages.flush_progress()
    log.info("bronze done: %d records landed in %s", rows_read(query), job.bronze_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

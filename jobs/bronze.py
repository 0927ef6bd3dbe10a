"""Bronze job: land every record of the family topics, as produced, in the bronze Delta table.

Submit it with the project's Spark settings (jars, Delta, sizes of the profile):

    .venv/bin/gamelake spark-conf          # writes .gamelake/spark/<profile>.conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/bronze.py --once

or through the CLI, which does the same: `gamelake submit bronze -- --once`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from gamelake.bronze import to_bronze
from gamelake.config import DEFAULT_ENV, load_settings
from gamelake.io import log_progress, read_kafka_stream, write_delta_stream
from gamelake.pipeline import load_pipeline_conf, table_path
from gamelake.spark import build_session

log = logging.getLogger("gamelake.jobs.bronze")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bronze", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env",
        default=os.environ.get("GAMELAKE_ENV", DEFAULT_ENV),
        help="conf/env profile (default: $GAMELAKE_ENV or local)",
    )
    parser.add_argument("--topic-pattern", help="regex of topics to read (default: conf)")
    parser.add_argument("--table", help="bronze table name (default: conf)")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: state/checkpoints/)")
    parser.add_argument(
        "--starting-offsets",
        default="earliest",
        help="earliest | latest | Spark's JSON of offsets (first run only)",
    )
    parser.add_argument(
        "--max-offsets-per-trigger", type=int, default=None, help="cap on records per micro-batch"
    )
    parser.add_argument(
        "--trigger-interval",
        default="10 seconds",
        help="micro-batch interval when running continuously",
    )
    parser.add_argument(
        "--once", action="store_true", help="process what is in Kafka now, then stop (availableNow)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(args.env)
    pipeline = load_pipeline_conf(settings.paths.conf)
    table = args.table or pipeline.bronze_table
    target = table_path(settings.paths.lake, "bronze", table)
    checkpoint = args.checkpoint or str(settings.paths.checkpoints / "bronze" / table)

    spark = build_session(settings, app_name=f"gamelake-bronze-{table}")
    source = read_kafka_stream(
        spark,
        settings.kafka.bootstrap_servers,
        args.topic_pattern or pipeline.topic_pattern,
        args.starting_offsets,
        args.max_offsets_per_trigger,
    )
    query = write_delta_stream(
        to_bronze(source, pipeline.topic_prefix),
        target,
        checkpoint,
        pipeline.bronze_partition_by,
        query_name=f"bronze_{table}",
        once=args.once,
        interval=args.trigger_interval,
    )
    log.info("bronze stream %s -> %s (checkpoint %s)", query.id, target, checkpoint)
    query.awaitTermination()
    rows = log_progress(query)
    log.info("bronze done: %d records landed in %s", rows, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

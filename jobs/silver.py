"""Silver job: parse bronze by each family's contract into typed, flat, deduplicated tables.

One Delta table per family under <lake>/silver/, PARTITIONED BY event_type; array items in
child tables (player_inventory, player_affiliations); rejects in ops.quarantine with reasons.
Every micro-batch passes the quality gate of conf/rules first (results in ops.dq_results);
a failed fail-rule stops the stream before the batch is written (--no-gates: unchecked).

    .venv/bin/gamelake spark-conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/silver.py --once

or `gamelake submit silver --once`; `gamelake run` runs bronze and silver together.
"""

from __future__ import annotations

import logging
import sys

from gamelake import jobargs
from gamelake.io import rows_read
from gamelake.progress import ProgressRecorder
from gamelake.spark import build_session
from gamelake.streams import start_silver

log = logging.getLogger("gamelake.jobs.silver")


def parse_args(argv: list[str] | None = None):
    parser = jobargs.stream_parser("silver", __doc__.splitlines()[0])
    jobargs.add_silver_args(parser)
    jobargs.add_gate_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    jobargs.configure_logging()
    job = jobargs.resolve(args)
    gate = jobargs.silver_gate_of(job, args.gates)
    jobargs.warm_up(gate)
    spark = build_session(job.settings, app_name="gamelake-silver")
    recorder = ProgressRecorder()
    spark.streams.addListener(recorder)
    query = start_silver(
        spark,
        job.contracts,
        job.lake,
        job.bronze_path,
        job.checkpoints / "silver",
        job.options,
        job.rejects_family,
        gate,
    )
    query.awaitTermination()
    recorder.flush(spark, job.lake)
    log.info("silver done: %d bronze records read", rows_read(query))
    return 0


if __name__ == "__main__":
    sys.exit(main())

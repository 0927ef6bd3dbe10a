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

import argparse
import logging
import sys

from gamelake import jobargs
from gamelake.io import rows_read
from gamelake.jobcontext import resolve
from gamelake.jobgates import silver_gate_of
from gamelake.jobmain import run_job
from gamelake.stages import open_stages

log = logging.getLogger("gamelake.jobs.silver")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = jobargs.stream_parser("silver", __doc__.splitlines()[0])
    jobargs.add_silver_args(parser)
    jobargs.add_gate_args(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    job = resolve(args)
    stages = open_stages(job, "gamelake-silver", silver_gate_of(job, args.gates))
    query = stages.silver()
    query.awaitTermination()
    stages.flush_progress()
    log.info("silver done: %d bronze records read", rows_read(query))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Batch gold job: rebuild gold tables (player profile, rooms, purchases, funnel...) from silver.

    .venv/bin/gamelake spark-conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/gold_batch.py
    .venv/bin/spark-submit ... jobs/gold_batch.py --table player_profile --table room_stats

or `gamelake submit gold_batch [--table T]`. Each table is replaced in one Delta commit,
once it passed its quality gate (conf/rules/gold.<table>.yaml); a table that fails keeps its
published version and the job exits 1 naming table, rule, observed value and threshold.
`jobs/pipeline.py --once` runs the same rebuild as its last stage.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gamelake import jobargs
from gamelake.gold.batch import BUILDERS
from gamelake.jobcontext import settings_of
from gamelake.jobgates import publish_gate_of, warm_up
from gamelake.jobmain import run_job
from gamelake.spark import build_session
from gamelake.stages import rebuild_batch_gold

log = logging.getLogger("gamelake.jobs.gold_batch")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = jobargs.job_parser("gold_batch", __doc__.splitlines()[0])
    parser.add_argument("--table", action="append", choices=sorted(BUILDERS), default=None,
                        help="rebuild only this table (repeatable; default: all)")  # fmt: skip
    jobargs.add_gate_args(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    gate = publish_gate_of(settings, args.gates)
    warm_up(gate)
    spark = build_session(settings, app_name="gamelake-gold-batch")
    written, held = rebuild_batch_gold(spark, settings.paths.lake, gate, args.table)
    for table, rows in written.items():
        log.info(
            "gold.%s: %s", table, "skipped (no silver yet)" if rows is None else f"{rows} rows"
        )
    if held is not None:
        log.error("%s", held)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

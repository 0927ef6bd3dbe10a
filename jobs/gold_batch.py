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
import os
import sys
from pathlib import Path

from gamelake import jobargs
from gamelake.config import DEFAULT_ENV, load_settings
from gamelake.dq.results import GateFailed
from gamelake.gold.batch import BUILDERS, rebuild
from gamelake.spark import build_session

log = logging.getLogger("gamelake.jobs.gold_batch")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gold_batch", description=__doc__.splitlines()[0])
    # Job entry point: the profile switch is read here, and only here.
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", DEFAULT_ENV),
                        help="conf/env profile (default: $GAMELAKE_ENV or local)")  # fmt: skip
    parser.add_argument("--lake", type=Path, default=None,
                        help="lake folder (default: the profile's)")  # fmt: skip
    parser.add_argument("--table", action="append", choices=sorted(BUILDERS), default=None,
                        help="rebuild only this table (repeatable; default: all)")  # fmt: skip
    jobargs.add_gate_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    jobargs.configure_logging()
    overrides = {"paths": {"lake": str(args.lake)}} if args.lake else None
    settings = load_settings(args.env, overrides=overrides)
    gate = jobargs.publish_gate_of(settings, args.gates)
    jobargs.warm_up(gate)
    spark = build_session(settings, app_name="gamelake-gold-batch")
    held = None
    try:
        written = rebuild(spark, settings.paths.lake, args.table, gate=gate)
    except GateFailed as failed:
        held, written = failed, failed.written
    for table, rows in written.items():
        log.info(
            "gold.%s: %s", table, "skipped (no silver yet)" if rows is None else f"{rows} rows"
        )
    if held is not None:
        log.error("%s", held)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

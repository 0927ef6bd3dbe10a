"""Maintain job: compact (OPTIMIZE, Z-order) or VACUUM the lake's Delta tables, per
conf/maintenance.yaml, beside running streams; history appended to ops.maintenance.

    .venv/bin/gamelake spark-conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/maintain.py \
        optimize --table silver.player_action

or `gamelake maintain optimize [--zorder COLS] [--table T]` /
`gamelake maintain vacuum [--retain-hours H]`.
"""

from __future__ import annotations

import argparse
import sys

from gamelake import jobargs
from gamelake.jobmain import run_job


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = jobargs.job_parser("maintain", __doc__.splitlines()[0])
    parser.add_argument("operation", choices=("optimize", "vacuum"))
    parser.add_argument(
        "--table",
        action="append",
        default=[],
        help="<layer>.<table> or a layer (repeatable; default: every table)",
    )
    parser.add_argument(
        "--zorder",
        default=None,
        help="optimize: comma list of columns, overriding conf (needs --table)",
    )
    parser.add_argument(
        "--retain-hours",
        type=float,
        default=None,
        help="vacuum: keep files younger versions need (default: conf)",
    )
    parser.add_argument(
        "--force", action="store_true", help="vacuum: allow a retention below Delta's 168 h minimum"
    )
    args = parser.parse_args(argv)
    if args.zorder is not None and (args.operation != "optimize" or not args.table):
        parser.error("--zorder goes with optimize and --table")
    return args


def run(args: argparse.Namespace) -> int:
    from gamelake.conventions import find_delta_tables, load_pipeline_conf
    from gamelake.jobcontext import settings_of
    from gamelake.ops.maintenance import HISTORY_TABLE, maintain_tables
    from gamelake.ops.maintenance_conf import (
        check_vacuum_retention,
        load_maintenance_conf,
        select_tables,
    )
    from gamelake.spark import build_session

    settings = settings_of(args)
    conf = load_maintenance_conf(settings.paths.conf)
    layers = load_pipeline_conf(settings.paths.conf).layers
    names = select_tables(find_delta_tables(settings.paths.lake, layers), args.table)
    zorder = [c.strip() for c in args.zorder.split(",") if c.strip()] if args.zorder else None
    if args.operation == "vacuum":
        check_vacuum_retention(conf, names, args.retain_hours, args.force)
    spark = build_session(settings, app_name=f"gamelake-maintain-{args.operation}")
    run_id, records = maintain_tables(
        spark, settings.paths.lake, names, args.operation, conf, zorder, args.retain_hours
    )
    print(f"{args.operation}: {len(records)} tables, history in ops.{HISTORY_TABLE} (run {run_id})")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

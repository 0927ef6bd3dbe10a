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
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("gamelake.jobs.maintain")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from gamelake.config import DEFAULT_ENV

    parser = argparse.ArgumentParser(prog="maintain", description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=("optimize", "vacuum"))
    parser.add_argument(
        "--env",
        default=os.environ.get("GAMELAKE_ENV", DEFAULT_ENV),
        help="conf/env profile (default: $GAMELAKE_ENV or local)",
    )
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
    parser.add_argument("--lake", type=Path, default=None, help="lake folder (default: profile's)")
    args = parser.parse_args(argv)
    if args.zorder is not None and (args.operation != "optimize" or not args.table):
        parser.error("--zorder goes with optimize and --table")
    return args


def run(args: argparse.Namespace) -> int:
    from gamelake.config import load_settings
    from gamelake.errors import GamelakeError
    from gamelake.ops import maintenance as m
    from gamelake.pipeline import find_delta_tables, load_pipeline_conf, table_path
    from gamelake.spark import build_session

    overrides = {"paths": {"lake": str(args.lake)}} if args.lake else None
    settings = load_settings(args.env, overrides=overrides)
    lake = settings.paths.lake
    pipeline = load_pipeline_conf(settings.paths.conf)
    conf = m.load_maintenance_conf(settings.paths.conf)
    names = m.select_tables(find_delta_tables(lake, pipeline.layers), args.table)
    zorder = [c.strip() for c in args.zorder.split(",") if c.strip()] if args.zorder else None
    if args.operation == "vacuum":
        for name in names:
            hours = args.retain_hours
            m.check_retention(
                conf.for_table(name).vacuum_retain_hours if hours is None else hours, args.force
            )

    spark = build_session(settings, app_name=f"gamelake-maintain-{args.operation}")
    run_id = m.new_run_id()
    records = []
    try:
        for i, name in enumerate(names, 1):
            layer, table = name.split(".")
            path = table_path(lake, layer, table)
            settings_t = conf.for_table(name)
            log.info("[%d/%d] %s %s", i, len(names), args.operation, name)
            protocol_before = m.protocol(spark, path)
            if args.operation == "optimize":
                if not settings_t.optimize and zorder is None:
                    log.info("%s: optimize is off in conf/maintenance.yaml", name)
                    continue
                if m.live_footprint(spark, path).files < settings_t.min_files:
                    log.info(
                        "%s: fewer than %d files, nothing to compact", name, settings_t.min_files
                    )
                    continue
                record = m.optimize_table(spark, path, settings_t, zorder, conf.backoff)
            else:
                hours = (
                    settings_t.vacuum_retain_hours
                    if args.retain_hours is None
                    else args.retain_hours
                )
                record = m.vacuum_table(spark, path, name, hours, conf.backoff)
            records.append(record)
            print(m.summary_line(record), flush=True)
            # Maintenance must never leave a table Trino cannot read.
            if m.protocol(spark, path) != protocol_before:
                blocked = m.unreadable_by_trino(*m.protocol(spark, path))
                if blocked:
                    raise GamelakeError(
                        f"{name} now needs reader features Trino 476 lacks: {blocked}",
                        fix="check spark.databricks.delta.properties.defaults.* in the Spark conf",
                    )
    finally:
        m.record_history(spark, lake, run_id, records)
    print(
        f"{args.operation}: {len(records)} tables, history in ops.{m.HISTORY_TABLE} (run {run_id})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from gamelake import jobargs
    from gamelake.errors import GamelakeError

    args = parse_args(argv)
    jobargs.configure_logging()
    try:
        return run(args)
    except GamelakeError as exc:
        print(f"error: {exc.cause}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Backfill job: a Kafka offset range into bronze by batch, never duplicating what bronze holds;
with --reset-checkpoint, also the reset of the bronze stream to a new checkpoint.

    .venv/bin/gamelake spark-conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/backfill.py \
        --from-timestamp 2026-11-23T18:00:00Z --to latest

or `gamelake backfill --from-timestamp ...` / `gamelake reset bronze ...`. Afterwards silver
runs once (availableNow) so the new bronze rows go onward (--no-silver to skip).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("gamelake.jobs.backfill")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from gamelake.config import DEFAULT_ENV

    parser = argparse.ArgumentParser(prog="backfill", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env",
        default=os.environ.get("GAMELAKE_ENV", DEFAULT_ENV),
        help="conf/env profile (default: $GAMELAKE_ENV or local)",
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--earliest", action="store_true", help="start at the earliest offset Kafka still holds"
    )
    start.add_argument("--from-timestamp", help="start at this time (ISO 8601 or epoch ms)")
    start.add_argument("--from-offsets", help='start at Spark offsets JSON {"topic": {"0": 5}}')
    parser.add_argument(
        "--to",
        default="latest",
        help="end (exclusive): latest, offsets JSON or a time (default latest)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="read what is left even where retention deleted records",
    )
    parser.add_argument(
        "--reset-checkpoint",
        action="store_true",
        help="then replace the bronze stream's checkpoint with one at the end",
    )
    parser.add_argument(
        "--no-silver", action="store_true", help="do not run silver once afterwards"
    )
    parser.add_argument(
        "--no-gates",
        dest="gates",
        action="store_false",
        help="silver without the quality gates of conf/rules",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, read nothing")
    parser.add_argument("--lake", type=Path, default=None, help="lake folder (default: profile's)")
    parser.add_argument(
        "--checkpoint-root",
        type=Path,
        default=None,
        help="stages' checkpoints (default: <state>/checkpoints)",
    )
    parser.add_argument(
        "--topic-prefix",
        default=None,
        help="read the topics <prefix><family> (default: conf/pipeline.yaml)",
    )
    # jobargs.resolve builds the silver stage's options from these.
    parser.set_defaults(once=True, trigger_interval="10 seconds")
    args = parser.parse_args(argv)
    if args.reset_checkpoint and args.to != "latest":
        parser.error("--reset-checkpoint continues the stream from now: leave --to at latest")
    if not (args.earliest or args.from_timestamp or args.from_offsets or args.reset_checkpoint):
        parser.error("give a start: --earliest, --from-timestamp or --from-offsets")
    return args


def run(args: argparse.Namespace) -> int:
    from gamelake import jobargs
    from gamelake.errors import GamelakeError
    from gamelake.ops import reset
    from gamelake.ops.backfill import backfill_bronze, plan_backfill
    from gamelake.ops.offsets import broker_offsets, parse_bound, start_bound_from

    job = jobargs.resolve(args)
    bootstrap = job.settings.kafka.bootstrap_servers
    checkpoint = job.checkpoints / "bronze" / job.pipeline.bronze_table
    committed = reset.committed(checkpoint) if args.reset_checkpoint else None
    bound = start_bound_from(args.earliest, args.from_timestamp, args.from_offsets)
    if bound is None:  # a reset without a start continues from the old checkpoint
        bound = reset.default_start(committed, broker_offsets(bootstrap, job.topic_pattern)[1])
        if bound is None:
            raise GamelakeError(
                f"no committed checkpoint at {checkpoint} to continue from",
                fix="give a start: --earliest, --from-timestamp or --from-offsets",
            )
    plan = plan_backfill(
        bootstrap, job.topic_pattern, bound, parse_bound(args.to), args.force, committed
    )
    log.info("backfill %s -> %s: %s", bound.describe(), args.to, plan.describe())
    for gap in plan.retention_gaps:
        log.warning(
            "--force: %s[%d] starts at %d, not %d (retention)",
            gap.topic,
            gap.partition,
            gap.available,
            gap.wanted,
        )
    if args.dry_run:
        print(plan.describe())
        return 0

    from gamelake.spark import build_session
    from gamelake.streams import StreamOptions, start_bronze, start_silver

    gate = None if args.no_silver else jobargs.silver_gate_of(job, args.gates)
    jobargs.warm_up(gate)
    spark = build_session(job.settings, app_name="gamelake-backfill")
    result = backfill_bronze(
        spark,
        bootstrap,
        plan.start,
        plan.end,
        job.topic_prefix,
        jobargs.secret_policy(job),
        job.bronze_path,
        job.pipeline.bronze_partition_by,
    )
    print(
        f"backfill: {result.rows_read} records read, {result.rows_added} added to bronze, "
        f"{result.rows_already_there} already there"
    )
    if args.reset_checkpoint:
        reset.set_aside(checkpoint)
        # The new checkpoint starts exactly where the backfill ended: no gap, no overlap.
        options = StreamOptions(once=True, starting_offsets=reset.start_json(plan.end))
        query = start_bronze(
            spark,
            bootstrap,
            job.topic_pattern,
            job.topic_prefix,
            jobargs.secret_policy(job),
            job.bronze_path,
            job.pipeline.bronze_partition_by,
            checkpoint,
            options,
        )
        query.awaitTermination()
        print(f"reset: bronze checkpoint {checkpoint} now starts at the offsets backfilled to")
    if not args.no_silver:
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
        log.info("silver caught up with bronze")
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

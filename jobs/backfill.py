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
import sys

from gamelake import jobargs
from gamelake.jobmain import run_job


def add_range_args(parser: argparse.ArgumentParser) -> None:
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = jobargs.job_parser("backfill", __doc__.splitlines()[0])
    jobargs.add_source_args(parser)
    add_range_args(parser)
    parser.add_argument(
        "--reset-checkpoint",
        action="store_true",
        help="then replace the bronze stream's checkpoint with one at the end",
    )
    parser.add_argument(
        "--no-silver", action="store_true", help="do not run silver once afterwards"
    )
    jobargs.add_gate_args(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the plan, read nothing")
    # jobcontext.resolve builds the silver stage's options from these.
    parser.set_defaults(once=True, trigger_interval="10 seconds")
    args = parser.parse_args(argv)
    if args.reset_checkpoint and args.to != "latest":
        parser.error("--reset-checkpoint continues the stream from now: leave --to at latest")
    if not (args.earliest or args.from_timestamp or args.from_offsets or args.reset_checkpoint):
        parser.error("give a start: --earliest, --from-timestamp or --from-offsets")
    return args


def run(args: argparse.Namespace) -> int:
    from gamelake.jobcontext import resolve
    from gamelake.ops.backfill import BackfillRequest
    from gamelake.ops.backfill_run import run_backfill

    request = BackfillRequest(
        args.earliest, args.from_timestamp, args.from_offsets, args.to, args.force,
        args.reset_checkpoint,
    )  # fmt: skip
    run_backfill(resolve(args), request, args.dry_run, not args.no_silver, args.gates)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Command-line options the jobs of jobs/ share (what they resolve to: gamelake.jobcontext)."""

from __future__ import annotations

import argparse
import os

from gamelake.config import DEFAULT_ENV
from gamelake.lakefs import located


def job_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every job takes: the profile and the lake."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    # Job entry point: the profile switch is read here, and only here.
    parser.add_argument(
        "--env",
        default=os.environ.get("GAMELAKE_ENV", DEFAULT_ENV),
        help="conf/env profile (default: $GAMELAKE_ENV or local)",
    )
    parser.add_argument(
        "--lake",
        type=located,
        default=None,
        help="lake folder or s3a:// URI to write (default: the profile's)",
    )
    return parser


def stream_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every streaming job takes."""
    parser = job_parser(prog, description)
    parser.add_argument(
        "--once",
        action="store_true",
        help="process what is available now, then stop (availableNow)",
    )
    parser.add_argument(
        "--trigger-interval",
        default="10 seconds",
        help="micro-batch interval when running continuously",
    )
    add_source_args(parser)
    return parser


def add_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint-root",
        type=located,
        default=None,
        help="folder of the stages' checkpoints (default: <state>/checkpoints)",
    )
    parser.add_argument(
        "--topic-prefix",
        default=None,
        help="read the topics <prefix><family> (default: conf/pipeline.yaml)",
    )


def add_kafka_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--starting-offsets",
        default="earliest",
        help="earliest | latest | Spark's JSON of offsets (first run only)",
    )
    parser.add_argument(
        "--max-offsets-per-trigger",
        type=int,
        default=None,
        help="cap on Kafka records per bronze micro-batch (default: the profile's "
        "streams.max_offsets_per_trigger; 0: no cap)",
    )


def add_silver_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-files-per-trigger",
        type=int,
        default=None,
        help="cap on bronze files per silver micro-batch",
    )
    parser.add_argument(
        "--max-bytes-per-trigger",
        default=None,
        help="cap on bytes of Delta files per silver/gold micro-batch, e.g. 16m (default: the "
        "profile's streams.max_bytes_per_trigger; 0: no cap)",
    )
    parser.add_argument(
        "--dedup-watermark",
        default="1 hour",
        help="how long an event id is remembered to drop re-sends",
    )


def add_gate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-gates",
        dest="gates",
        action="store_false",
        help="skip the quality gates of conf/rules (nothing is checked or recorded in "
        "ops.dq_results; for measurements and emergencies)",
    )


def add_gold_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gold-trigger-interval",
        default=None,
        help="micro-batch interval of the streaming gold queries when running continuously, "
        "e.g. '1 minute': each gold batch is a fixed cost, so a slower cadence leaves the "
        "driver to silver (default: the profile's streams.gold_interval, else "
        "--trigger-interval; ignored with --once)",
    )

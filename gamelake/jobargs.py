"""Command-line options shared by the streaming jobs, and what they resolve to."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
from pathlib import Path

from gamelake.config import DEFAULT_ENV, Settings, StreamSettings, load_settings
from gamelake.contracts import Contract, load_contracts
from gamelake.dq.gate import SilverGate, TableGate, silver_gate, table_gate
from gamelake.dq.suite import warm_up_in_background
from gamelake.pipeline import PipelineConf, load_pipeline_conf, table_path
from gamelake.secrets import SecretPolicy, declared_secrets, load_policy
from gamelake.streams import StreamOptions

log = logging.getLogger(__name__)


def stream_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every streaming job takes."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    # Job entry point: the profile switch is read here, and only here.
    parser.add_argument(
        "--env",
        default=os.environ.get("GAMELAKE_ENV", DEFAULT_ENV),
        help="conf/env profile (default: $GAMELAKE_ENV or local)",
    )
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
    parser.add_argument(
        "--checkpoint-root",
        type=Path,
        default=None,
        help="folder of the stages' checkpoints (default: <state>/checkpoints)",
    )
    parser.add_argument(
        "--lake", type=Path, default=None, help="lake folder to write (default: the profile's)"
    )
    parser.add_argument(
        "--topic-prefix",
        default=None,
        help="read the topics <prefix><family> (default: conf/pipeline.yaml)",
    )
    return parser


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


def _bound(given, default):
    """A micro-batch bound from the command line, else the profile's; 0 lifts it."""
    value = default if given is None else given
    return None if value in (0, "0") else value


def stream_options(args: argparse.Namespace, bounds: StreamSettings) -> StreamOptions:
    """The streams' options: the command line's, the profile's micro-batch bounds otherwise."""
    return StreamOptions(
        once=args.once,
        interval=args.trigger_interval,
        starting_offsets=getattr(args, "starting_offsets", "earliest"),
        max_offsets_per_trigger=_bound(
            getattr(args, "max_offsets_per_trigger", None), bounds.max_offsets_per_trigger
        ),
        max_files_per_trigger=getattr(args, "max_files_per_trigger", None),
        max_bytes_per_trigger=_bound(
            getattr(args, "max_bytes_per_trigger", None), bounds.max_bytes_per_trigger
        ),
        dedup_watermark=getattr(args, "dedup_watermark", "1 hour"),
    )


@dataclasses.dataclass(frozen=True)
class JobContext:
    """Everything a streaming job needs, resolved from its arguments and the profile."""

    settings: Settings
    pipeline: PipelineConf
    contracts: dict[str, Contract]
    topic_prefix: str
    topic_pattern: str
    checkpoints: Path
    options: StreamOptions

    @property
    def lake(self) -> Path:
        return self.settings.paths.lake

    @property
    def rejects_family(self) -> str:
        """The family bronze gives the collector's rejects topic."""
        return self.pipeline.rejects_topic.removeprefix(self.topic_prefix)

    @property
    def bronze_path(self) -> Path:
        return table_path(self.lake, "bronze", self.pipeline.bronze_table)


def resolve(args: argparse.Namespace) -> JobContext:
    """The job's settings, conventions and options, with command-line overrides applied."""
    overrides = {"paths": {"lake": str(args.lake)}} if args.lake else None
    settings = load_settings(args.env, overrides=overrides)
    pipeline = load_pipeline_conf(settings.paths.conf)
    prefix = args.topic_prefix or pipeline.topic_prefix
    pattern = re.escape(prefix) + ".*" if args.topic_prefix else pipeline.topic_pattern
    return JobContext(
        settings=settings,
        pipeline=pipeline,
        contracts=load_contracts(settings.paths.conf / "contracts"),
        topic_prefix=prefix,
        topic_pattern=pattern,
        checkpoints=args.checkpoint_root or settings.paths.checkpoints,
        options=stream_options(args, settings.streams),
    )


def secret_policy(job: JobContext) -> SecretPolicy:
    """What never lands: conf/secrets.yaml's names plus every contract's declared secrets."""
    return load_policy(job.settings.paths.conf, declared_secrets(job.contracts))


# Libraries whose INFO lines are per-call chatter (py4j: every callback; GX: every
# registered function at import), drowning what the job says it did.
QUIET_LOGGERS = ("py4j", "great_expectations")


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def silver_gate_of(job: JobContext, gates: bool) -> SilverGate | None:
    """The silver stage's gate from conf/rules (None with --no-gates)."""
    if not gates:
        log.warning("quality gates off (--no-gates): silver batches are not checked")
        return None
    return silver_gate(job.settings.paths.conf, job.lake, "", job.settings.paths.state)


def publish_gate_of(settings: Settings, gates: bool) -> TableGate | None:
    """The gate of tables published whole (batch gold) from conf/rules (None with --no-gates)."""
    if not gates:
        log.warning("quality gates off (--no-gates): gold tables are published unchecked")
        return None
    return table_gate(settings.paths.conf, settings.paths.lake, settings.paths.state)


def warm_up(*gates: SilverGate | TableGate | None) -> None:
    """Start the gates' GX import and contexts in the background, before the Spark session
    is built (None: a gate switched off)."""
    warm_up_in_background([gate.runner for gate in gates if gate is not None])

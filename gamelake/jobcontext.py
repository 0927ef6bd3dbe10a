"""What a job runs with, resolved from its command line and the profile: settings, pipeline
conventions, contracts, topics, checkpoints and the streams' options."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

from gamelake import lakefs
from gamelake.config import Settings, StreamSettings, load_settings
from gamelake.contracts import Contract, load_contracts
from gamelake.conventions import PipelineConf, load_pipeline_conf, table_path
from gamelake.ops.maintenance_conf import load_maintenance_conf
from gamelake.secrets import SecretPolicy, declared_secrets, load_policy
from gamelake.streams import StreamOptions


def settings_of(args: argparse.Namespace) -> Settings:
    """The profile's settings (--env), with --lake in place of its lake when given."""
    overrides = {"paths": {"lake": str(args.lake)}} if args.lake else None
    return load_settings(args.env, overrides=overrides)


def topics_of(pipeline: PipelineConf, topic_prefix: str | None) -> tuple[str, str]:
    """(prefix, pattern) of the topics a job reads: conf/pipeline.yaml's, or everything under
    the prefix given."""
    if topic_prefix:
        return topic_prefix, re.escape(topic_prefix) + ".*"
    return pipeline.topic_prefix, pipeline.topic_pattern


def bronze_checkpoint(checkpoints: Path, pipeline: PipelineConf) -> Path:
    """The bronze stream's checkpoint under the stages' checkpoint folder."""
    return checkpoints / "bronze" / pipeline.bronze_table


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


def gold_interval(args: argparse.Namespace, streams: StreamSettings) -> str | None:
    """The streaming gold queries' trigger interval: the command line's, else the profile's;
    None: the streams' own."""
    return getattr(args, "gold_trigger_interval", None) or streams.gold_interval


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
    # Streaming gold's trigger interval when it differs from options.interval.
    gold_interval: str | None = None

    @property
    def lake(self) -> Path:
        return self.settings.paths.lake

    @property
    def gold_options(self) -> StreamOptions:
        """The streaming gold queries' options: the streams', at gold's own interval."""
        if self.gold_interval is None:
            return self.options
        return dataclasses.replace(self.options, interval=self.gold_interval)

    @property
    def rejects_family(self) -> str:
        """The family bronze gives the collector's rejects topic."""
        return self.pipeline.rejects_topic.removeprefix(self.topic_prefix)

    @property
    def bronze_path(self) -> Path:
        return table_path(self.lake, "bronze", self.pipeline.bronze_table)

    @property
    def bronze_checkpoint(self) -> Path:
        return bronze_checkpoint(self.checkpoints, self.pipeline)

    def silver_zorder(self) -> dict[str, tuple[str, ...]]:
        """The columns conf/maintenance.yaml Z-orders each silver table by."""
        return load_maintenance_conf(self.settings.paths.conf).zorder_of("silver")

    def secret_policy(self) -> SecretPolicy:
        """What never lands: conf/secrets.yaml's names plus every contract's declared secrets."""
        return load_policy(self.settings.paths.conf, declared_secrets(self.contracts))


def resolve(args: argparse.Namespace) -> JobContext:
    """The job's settings, conventions and options, with command-line overrides applied."""
    settings = settings_of(args)
    pipeline = load_pipeline_conf(settings.paths.conf)
    prefix, pattern = topics_of(pipeline, args.topic_prefix)
    return JobContext(
        settings=settings,
        pipeline=pipeline,
        contracts=load_contracts(settings.paths.conf / "contracts"),
        topic_prefix=prefix,
        topic_pattern=pattern,
        checkpoints=(
            lakefs.located(args.checkpoint_root, settings.s3)
            if args.checkpoint_root
            else settings.paths.checkpoints
        ),
        options=stream_options(args, settings.streams),
        gold_interval=gold_interval(args, settings.streams),
    )

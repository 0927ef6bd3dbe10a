"""`gamelake backfill`: a Kafka offset range into bronze (and onward), without duplicates; and
what it shares with `gamelake reset`, a backfill that then replaces the bronze checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gamelake.commands._options import CheckpointRoot, Lake, NoSilver, TopicPrefix
from gamelake.config import Settings

if TYPE_CHECKING:
    from gamelake.ops.backfill import BackfillRequest

Earliest = Annotated[bool, typer.Option("--earliest", help="From the earliest offset Kafka holds.")]
FromTimestamp = Annotated[
    str, typer.Option("--from-timestamp", help="From this time (ISO 8601 or epoch ms).")
]
FromOffsets = Annotated[
    str, typer.Option("--from-offsets", help='From Spark offsets JSON {"topic": {"0": 5}}.')
]
To = Annotated[str, typer.Option("--to", help="End (exclusive): latest, offsets JSON or a time.")]
Force = Annotated[
    bool, typer.Option("--force", help="Read what is left where retention deleted records.")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the resolved range and stop.")]


def run_or_plan(
    settings: Settings,
    request: BackfillRequest,
    dry_run: bool,
    no_silver: bool,
    topic_prefix: str | None,
    lake: Path | None,
    checkpoint_root: Path | None,
) -> None:
    """Submit jobs/backfill.py for the request; with dry_run, log its plan instead (checked here
    without Spark; the job checks it again before reading)."""
    import dataclasses
    import logging

    from gamelake import lakefs
    from gamelake.conventions import load_pipeline_conf
    from gamelake.jobcontext import bronze_checkpoint, topics_of
    from gamelake.ops.backfill import dry_run_lines, plan_request
    from gamelake.ops.jobs import passthrough, submit_job

    request.start()  # refuse a bad start before Kafka or Spark is asked anything
    if dry_run:
        pipeline = load_pipeline_conf(settings.paths.conf)
        root = lakefs.located(checkpoint_root, settings.s3) if checkpoint_root else None
        checkpoint = bronze_checkpoint(root or settings.paths.checkpoints, pipeline)
        pattern = topics_of(pipeline, topic_prefix)[1]
        _, plan = plan_request(settings.kafka.bootstrap_servers, pattern, request, checkpoint)
        for line in dry_run_lines(plan, request, checkpoint):
            logging.getLogger("gamelake").info("%s", line)
        return
    args = passthrough(
        **dataclasses.asdict(request), no_silver=no_silver, topic_prefix=topic_prefix, lake=lake,
        checkpoint_root=checkpoint_root,
    )  # fmt: skip
    raise typer.Exit(submit_job(settings, "backfill", args))


def backfill(
    ctx: typer.Context,
    earliest: Earliest = False,
    from_timestamp: FromTimestamp = None,
    from_offsets: FromOffsets = None,
    to: To = "latest",
    force: Force = False,
    no_silver: NoSilver = False,
    dry_run: DryRun = False,
    topic_prefix: TopicPrefix = None,
    lake: Lake = None,
    checkpoint_root: CheckpointRoot = None,
) -> None:
    """Read a Kafka range by batch into bronze, skipping records bronze already holds
    (by topic, partition, offset); silver then picks the new rows up."""
    from gamelake.ops.backfill import BackfillRequest

    request = BackfillRequest(earliest, from_timestamp, from_offsets, to, force)
    run_or_plan(ctx.obj, request, dry_run, no_silver, topic_prefix, lake, checkpoint_root)


def register(app: typer.Typer) -> None:
    app.command()(backfill)

"""`gamelake reset bronze`: the bronze stream on a new checkpoint at explicit offsets, guarded
against Kafka's retention and against skipping records (a backfill, then a new checkpoint)."""

from __future__ import annotations

from typing import Annotated

import typer

from gamelake.commands._options import CheckpointRoot, Lake, NoSilver, TopicPrefix

STREAMS = ("bronze",)

Stream = Annotated[str, typer.Argument(help="The stream to reset: bronze.")]
Earliest = Annotated[
    bool, typer.Option("--earliest", help="Restart from the earliest offset Kafka holds.")
]
FromTimestamp = Annotated[
    str, typer.Option("--from-timestamp", help="Restart from this time (ISO 8601 or epoch ms).")
]
FromOffsets = Annotated[
    str,
    typer.Option("--from-offsets", help='Restart from Spark offsets JSON {"topic": {"0": 5}}.'),
]
Force = Annotated[
    bool, typer.Option("--force", help="Go ahead although records are lost or skipped.")
]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the plan and the guards' verdict, change nothing."),
]


def reset(
    ctx: typer.Context,
    stream: Stream,
    earliest: Earliest = False,
    from_timestamp: FromTimestamp = None,
    from_offsets: FromOffsets = None,
    force: Force = False,
    no_silver: NoSilver = False,
    dry_run: DryRun = False,
    topic_prefix: TopicPrefix = None,
    lake: Lake = None,
    checkpoint_root: CheckpointRoot = None,
) -> None:
    """Replace a stream's checkpoint with a new one at explicit offsets (default: where the
    old one stopped). Records from the start on are backfilled into bronze by Kafka
    coordinates, so nothing doubles; refuses starts Kafka's retention already deleted or
    past what the old checkpoint committed, unless --force. Stop the streams first."""
    from gamelake.commands.backfill import run_or_plan
    from gamelake.errors import GamelakeError
    from gamelake.ops.backfill import BackfillRequest

    if stream not in STREAMS:
        raise GamelakeError(
            f"cannot reset stream {stream!r}",
            fix=f"resettable streams: {', '.join(STREAMS)} (silver reads bronze: a silver "
            "refresh rebuilds from bronze, not Kafka)",
        )
    request = BackfillRequest(earliest, from_timestamp, from_offsets, force=force,
                              reset_checkpoint=True)  # fmt: skip
    run_or_plan(ctx.obj, request, dry_run, no_silver, topic_prefix, lake, checkpoint_root)


def register(app: typer.Typer) -> None:
    app.command()(reset)

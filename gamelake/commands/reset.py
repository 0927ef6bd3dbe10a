"""`gamelake reset bronze`: the bronze stream on a new checkpoint at explicit offsets, guarded
against Kafka's retention and against skipping records."""

from __future__ import annotations

from pathlib import Path

import typer

STREAMS = ("bronze",)


def register(app: typer.Typer) -> None:
    @app.command()
    def reset(
        ctx: typer.Context,
        stream: str = typer.Argument(..., help="The stream to reset: bronze."),
        earliest: bool = typer.Option(
            False, "--earliest", help="Restart from the earliest offset Kafka holds."
        ),
        from_timestamp: str = typer.Option(
            None, "--from-timestamp", help="Restart from this time (ISO 8601 or epoch ms)."
        ),
        from_offsets: str = typer.Option(
            None, "--from-offsets", help='Restart from Spark offsets JSON {"topic": {"0": 5}}.'
        ),
        force: bool = typer.Option(
            False, "--force", help="Go ahead although records are lost or skipped."
        ),
        no_silver: bool = typer.Option(
            False, "--no-silver", help="Do not run silver once afterwards."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Print the plan and the guards' verdict, change nothing."
        ),
        topic_prefix: str = typer.Option(None, "--topic-prefix", help="Topics <prefix><family>."),
        lake: Path = typer.Option(None, "--lake", help="Lake folder (default: the profile's)."),
        checkpoint_root: Path = typer.Option(
            None, "--checkpoint-root", help="Stages' checkpoints."
        ),
    ) -> None:
        """Replace a stream's checkpoint with a new one at explicit offsets (default: where the
        old one stopped). Records from the start on are backfilled into bronze by Kafka
        coordinates, so nothing doubles; refuses starts Kafka's retention already deleted or
        past what the old checkpoint committed, unless --force. Stop the streams first."""
        import logging

        from gamelake.errors import GamelakeError
        from gamelake.ops import reset as reset_ops
        from gamelake.ops.backfill import plan_backfill
        from gamelake.ops.jobs import passthrough, submit_job, topic_pattern
        from gamelake.ops.offsets import broker_offsets, parse_bound, start_bound_from
        from gamelake.pipeline import load_pipeline_conf

        if stream not in STREAMS:
            raise GamelakeError(
                f"cannot reset stream {stream!r}",
                fix=f"resettable streams: {', '.join(STREAMS)} (silver reads bronze: a silver "
                "refresh rebuilds from bronze, not Kafka)",
            )
        settings = ctx.obj
        if dry_run:
            pipeline = load_pipeline_conf(settings.paths.conf)
            root = checkpoint_root or settings.paths.checkpoints
            checkpoint = root / "bronze" / pipeline.bronze_table
            pattern = topic_pattern(settings, topic_prefix)
            committed = reset_ops.committed(checkpoint)
            bound = start_bound_from(earliest, from_timestamp, from_offsets)
            if bound is None:
                latest = broker_offsets(settings.kafka.bootstrap_servers, pattern)[1]
                bound = reset_ops.default_start(committed, latest)
                if bound is None:
                    raise GamelakeError(
                        f"no committed checkpoint at {checkpoint} to continue from",
                        fix="give --earliest, --from-timestamp or --from-offsets",
                    )
            plan = plan_backfill(
                settings.kafka.bootstrap_servers,
                pattern,
                bound,
                parse_bound("latest"),
                force,
                committed,
            )
            log = logging.getLogger("gamelake")
            log.info("would backfill %s", plan.describe())
            log.info("then start a new checkpoint at %s", checkpoint)
            return
        args = passthrough(
            reset_checkpoint=True,
            earliest=earliest,
            from_timestamp=from_timestamp,
            from_offsets=from_offsets,
            force=force,
            no_silver=no_silver,
            topic_prefix=topic_prefix,
            lake=lake,
            checkpoint_root=checkpoint_root,
        )
        raise typer.Exit(submit_job(settings, "backfill", args))

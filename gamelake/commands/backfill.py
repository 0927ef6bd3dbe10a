"""`gamelake backfill`: a Kafka offset range into bronze (and onward), without duplicates."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def backfill(
        ctx: typer.Context,
        earliest: bool = typer.Option(
            False, "--earliest", help="From the earliest offset Kafka holds."
        ),
        from_timestamp: str = typer.Option(
            None, "--from-timestamp", help="From this time (ISO 8601 or epoch ms)."
        ),
        from_offsets: str = typer.Option(
            None, "--from-offsets", help='From Spark offsets JSON {"topic": {"0": 5}}.'
        ),
        to: str = typer.Option(
            "latest", "--to", help="End (exclusive): latest, offsets JSON or a time."
        ),
        force: bool = typer.Option(
            False, "--force", help="Read what is left where retention deleted records."
        ),
        no_silver: bool = typer.Option(
            False, "--no-silver", help="Do not run silver once afterwards."
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved range and stop."),
        topic_prefix: str = typer.Option(None, "--topic-prefix", help="Topics <prefix><family>."),
        lake: Path = typer.Option(None, "--lake", help="Lake folder (default: the profile's)."),
        checkpoint_root: Path = typer.Option(
            None, "--checkpoint-root", help="Stages' checkpoints."
        ),
    ) -> None:
        """Read a Kafka range by batch into bronze, skipping records bronze already holds
        (by topic, partition, offset); silver then picks the new rows up."""
        import logging

        from gamelake.errors import GamelakeError
        from gamelake.ops.backfill import plan_backfill
        from gamelake.ops.jobs import passthrough, submit_job, topic_pattern
        from gamelake.ops.offsets import parse_bound, start_bound_from

        settings = ctx.obj
        bound = start_bound_from(earliest, from_timestamp, from_offsets)
        if bound is None:
            raise GamelakeError(
                "no start given", fix="give --earliest, --from-timestamp or --from-offsets"
            )
        if dry_run:
            # Checked here, without Spark: the job repeats the same checks before reading.
            plan = plan_backfill(
                settings.kafka.bootstrap_servers,
                topic_pattern(settings, topic_prefix),
                bound,
                parse_bound(to),
                force,
            )
            logging.getLogger("gamelake").info("would backfill %s", plan.describe())
            return
        args = passthrough(
            earliest=earliest,
            from_timestamp=from_timestamp,
            from_offsets=from_offsets,
            to=to,
            force=force,
            no_silver=no_silver,
            topic_prefix=topic_prefix,
            lake=lake,
            checkpoint_root=checkpoint_root,
        )
        raise typer.Exit(submit_job(settings, "backfill", args))

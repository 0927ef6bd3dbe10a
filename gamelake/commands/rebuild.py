"""`gamelake rebuild`: batch gold recomputed from silver, each table replaced atomically."""

from __future__ import annotations

import typer

from gamelake.commands._options import Lake


def register(app: typer.Typer) -> None:
    @app.command()
    def rebuild(
        ctx: typer.Context,
        table: list[str] = typer.Option(
            None, "--table", help="A batch gold table (repeatable; default: all of them)."
        ),
        lake: Lake = None,
    ) -> None:
        """Recompute batch gold tables from silver (jobs/gold_batch.py). Each table is
        replaced in one Delta commit: a concurrent reader sees the old table or the new one,
        never a half-built one."""
        from gamelake.errors import GamelakeError
        from gamelake.gold.batch import BUILDERS
        from gamelake.ops.jobs import passthrough, submit_job

        unknown = sorted(set(table or ()) - set(BUILDERS))
        if unknown:
            raise GamelakeError(
                f"no batch gold table {', '.join(unknown)}",
                fix=f"choose among {', '.join(sorted(BUILDERS))}",
            )
        args = passthrough(table=table, lake=lake)
        raise typer.Exit(submit_job(ctx.obj, "gold_batch", args))

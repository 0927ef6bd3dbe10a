"""`gamelake maintain optimize|vacuum`: compaction and clean-up of the lake's Delta tables."""

from __future__ import annotations

from typing import Annotated

import typer

from gamelake.commands._options import Lake

Tables = Annotated[
    list[str],
    typer.Option("--table", help="<layer>.<table> or a layer (repeatable; default: all)."),
]


def register(app: typer.Typer) -> None:
    maintain_app = typer.Typer(
        help="Table maintenance beside the running streams (settings: conf/maintenance.yaml).",
        no_args_is_help=True,
    )
    app.add_typer(maintain_app, name="maintain")

    @maintain_app.command()
    def optimize(
        ctx: typer.Context,
        table: Tables = None,
        zorder: str = typer.Option(
            None, "--zorder", help="Comma list of columns to Z-order by (needs --table)."
        ),
        lake: Lake = None,
    ) -> None:
        """Compact small files (and Z-order) per table; prints files and bytes before/after."""
        from gamelake.ops.jobs import passthrough, submit_job

        args = passthrough(table=table, zorder=zorder, lake=lake)
        raise typer.Exit(submit_job(ctx.obj, "maintain", ["optimize", *args]))

    @maintain_app.command()
    def vacuum(
        ctx: typer.Context,
        table: Tables = None,
        retain_hours: float = typer.Option(
            None, "--retain-hours", help="Keep files versions this young need (default: conf)."
        ),
        force: bool = typer.Option(False, "--force", help="Allow less than Delta's 168 h minimum."),
        lake: Lake = None,
    ) -> None:
        """Delete files no recent version needs; prints files and bytes on storage before/after."""
        from gamelake.ops.jobs import passthrough, submit_job
        from gamelake.ops.maintenance_conf import check_retention

        if retain_hours is not None:
            check_retention(retain_hours, force)  # refuse before starting Spark
        args = passthrough(table=table, retain_hours=retain_hours, force=force, lake=lake)
        raise typer.Exit(submit_job(ctx.obj, "maintain", ["vacuum", *args]))

"""`gamelake maintain optimize|vacuum`: compaction and clean-up of the lake's Delta tables."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    maintain_app = typer.Typer(
        help="Table maintenance beside the running streams (settings: conf/maintenance.yaml).",
        no_args_is_help=True,
    )
    app.add_typer(maintain_app, name="maintain")

    @maintain_app.command()
    def optimize(
        ctx: typer.Context,
        table: list[str] = typer.Option(
            None, "--table", help="<layer>.<table> or a layer (repeatable; default: all)."
        ),
        zorder: str = typer.Option(
            None, "--zorder", help="Comma list of columns to Z-order by (needs --table)."
        ),
        lake: Path = typer.Option(None, "--lake", help="Lake folder (default: the profile's)."),
    ) -> None:
        """Compact small files (and Z-order) per table; prints files and bytes before/after."""
        from gamelake.ops.jobs import submit_job

        args = ["optimize", *(a for t in table or () for a in ("--table", t))]
        args += ["--zorder", zorder] if zorder else []
        args += ["--lake", str(lake)] if lake else []
        raise typer.Exit(submit_job(ctx.obj, "maintain", args))

    @maintain_app.command()
    def vacuum(
        ctx: typer.Context,
        table: list[str] = typer.Option(
            None, "--table", help="<layer>.<table> or a layer (repeatable; default: all)."
        ),
        retain_hours: float = typer.Option(
            None, "--retain-hours", help="Keep files versions this young need (default: conf)."
        ),
        force: bool = typer.Option(False, "--force", help="Allow less than Delta's 168 h minimum."),
        lake: Path = typer.Option(None, "--lake", help="Lake folder (default: the profile's)."),
    ) -> None:
        """Delete files no recent version needs; prints files and bytes on storage before/after."""
        from gamelake.ops.jobs import submit_job
        from gamelake.ops.maintenance import check_retention

        if retain_hours is not None:
            check_retention(retain_hours, force)  # refuse before starting Spark
        args = ["vacuum", *(a for t in table or () for a in ("--table", t))]
        args += ["--retain-hours", str(retain_hours)] if retain_hours is not None else []
        args += ["--force"] if force else []
        args += ["--lake", str(lake)] if lake else []
        raise typer.Exit(submit_job(ctx.obj, "maintain", args))

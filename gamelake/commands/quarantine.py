"""`gamelake quarantine replay`: move quarantined records that now pass into silver, once."""

from __future__ import annotations

import logging

import typer

from gamelake.commands._options import Lake

log = logging.getLogger("gamelake")


def register(app: typer.Typer) -> None:
    q_app = typer.Typer(help="ops.quarantine: records that failed a contract or rule.",
                        no_args_is_help=True)  # fmt: skip
    app.add_typer(q_app, name="quarantine")

    @q_app.command("replay")
    def replay_cmd(
        ctx: typer.Context,
        rule: str = typer.Option(None, "--rule", help="Only records that failed this rule "
                                 "(as in ops.quarantine.rules, e.g. dq.points_per_round)."),
        family: str = typer.Option(None, "--family", help="Only this event family."),
        lake: Lake = None,
    ) -> None:  # fmt: skip
        """Re-validate quarantined records with today's contracts and rules; those that pass
        move to silver exactly once (a second run changes nothing)."""
        from rich.table import Table

        from gamelake import lakefs
        from gamelake.contracts import load_contracts
        from gamelake.conventions import load_pipeline_conf, table_path
        from gamelake.display import make_console
        from gamelake.dq.gate import silver_gate
        from gamelake.dq.replay import replay
        from gamelake.errors import GamelakeError
        from gamelake.ops.maintenance_conf import load_maintenance_conf
        from gamelake.spark import build_session

        settings = ctx.obj
        lake_dir = lakefs.resolved(
            lakefs.located(lake, settings.s3) if lake else settings.paths.lake
        )
        contracts = load_contracts(settings.paths.conf / "contracts")
        if family and family not in contracts:
            raise GamelakeError(f"unknown family {family!r}", fix=f"one of: {', '.join(contracts)}")
        pipeline = load_pipeline_conf(settings.paths.conf)
        bronze = table_path(lake_dir, "bronze", pipeline.bronze_table)
        gate = silver_gate(settings.paths.conf, lake_dir, "quarantine-replay", settings.paths.state)
        spark = build_session(settings, app_name="gamelake-quarantine-replay")
        try:
            zorder = load_maintenance_conf(settings.paths.conf).zorder_of("silver")
            outcomes = replay(spark, lake_dir, bronze, contracts, gate, rule, family, zorder)
        finally:
            spark.stop()
        out = Table(title="quarantine replay")
        for col in ("family", "looked at", "moved to silver", "still failing"):
            out.add_column(col)
        for o in outcomes:
            out.add_row(o.family, str(o.candidates), str(o.promoted), str(o.still_failing))
        make_console().print(out)
        if not outcomes:
            log.info("nothing quarantined matches")

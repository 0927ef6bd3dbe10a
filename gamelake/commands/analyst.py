"""`gamelake access`: who may read what in Trino (conf/trino/access.yaml), shown or applied live.

gamelake access show     # the rules Trino enforces for etl and analyst, as JSON
gamelake access apply    # rewrite Trino's rules.json; the running server re-reads it
"""

from __future__ import annotations

import json
import logging

import typer

log = logging.getLogger("gamelake")


def register(app: typer.Typer) -> None:
    access = typer.Typer(help="Trino access rules for analysts (conf/trino/access.yaml).")
    app.add_typer(access, name="access")

    @access.command("show")
    def show(ctx: typer.Context) -> None:
        """Print the rules.json generated from conf/trino/access.yaml."""
        from gamelake.runtime.trino import access_rules, load_access

        typer.echo(json.dumps(access_rules(load_access(ctx.obj.paths.conf)), indent=2))

    @access.command("apply")
    def apply(ctx: typer.Context) -> None:
        """Write Trino's rules.json from conf/ (a running Trino re-reads it within seconds)."""
        from gamelake.runtime.trino import access_control_files, load_access, trino_dir

        settings = ctx.obj
        etc = trino_dir(settings) / "etc"
        spec = load_access(settings.paths.conf)
        rules = etc / "rules.json"
        etc.mkdir(parents=True, exist_ok=True)
        rules.write_text(access_control_files(etc, spec)["rules.json"])
        log.info(
            "wrote %s; Trino re-reads it every %s (a restart is needed only the first time)",
            rules,
            spec.get("refresh_period", "5s"),
        )

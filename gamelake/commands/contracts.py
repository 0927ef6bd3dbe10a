"""`gamelake contracts`: list the event families and show a contract's derived schemas."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    contracts_app = typer.Typer(help="Event contracts (conf/contracts).", no_args_is_help=True)
    app.add_typer(contracts_app, name="contracts")

    @contracts_app.command("list")
    def list_(ctx: typer.Context) -> None:
        """One line per family: seed, key, event type, event time, field count."""
        from rich.table import Table

        from gamelake.contracts import load_contracts
        from gamelake.display import make_console

        table = Table(title="event contracts")
        for col in ("family", "seed", "key", "event type", "event time", "columns", "title"):
            table.add_column(col)
        for c in load_contracts(ctx.obj.paths.conf / "contracts").values():
            event_type = (
                ".".join(c.event_type_field) if c.event_type_field else f"= {c.event_type_value}"
            )
            table.add_row(
                c.family, c.seed, ".".join(c.key), event_type,
                f"{c.event_time.dotted} ({c.event_time.format})", str(len(c.leaves())), c.title,
            )  # fmt: skip
        make_console().print(table)

    @contracts_app.command("show")
    def show(
        ctx: typer.Context,
        family: str = typer.Argument(..., help="An event family."),
        as_: str = typer.Option("json-schema", "--as", help="json-schema | spark"),
    ) -> None:
        """Print a family's JSON Schema or Spark schema, derived from its contract."""
        from gamelake.contracts import load_contracts
        from gamelake.errors import GamelakeError

        contracts = load_contracts(ctx.obj.paths.conf / "contracts")
        if family not in contracts:
            raise GamelakeError(f"no family {family!r}", fix=f"one of: {', '.join(contracts)}")
        contract = contracts[family]
        if as_ == "spark":
            typer.echo(contract.spark_schema().treeString())
        else:
            typer.echo(json.dumps(contract.json_schema(), indent=2))

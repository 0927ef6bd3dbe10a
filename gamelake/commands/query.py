"""`gamelake query`: answer a business question of sql/queries (or any .sql file) with Trino."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def query(
        ctx: typer.Context,
        name: str = typer.Argument(None, help="A question: domain/question, or just question."),
        file: Path = typer.Option(None, "--file", "-f", help="Run this .sql file instead."),
        list_: bool = typer.Option(False, "--list", "-l", help="List the questions."),
        catalog: str = typer.Option(
            None, help="Trino catalog to query (default: the profile's); schemas are layers."
        ),
    ) -> None:
        """Run one question of sql/queries on Trino and print its answer as a table."""
        from rich.table import Table

        from gamelake import trino_client
        from gamelake.display import make_console, print_result
        from gamelake.errors import GamelakeError
        from gamelake.queries import list_queries, load_query, read_query_file

        settings = ctx.obj
        sql_dir = settings.paths.root / "sql"
        console = make_console()
        if list_:
            table = Table(title=f"questions in {sql_dir / 'queries'}")
            table.add_column("name")
            table.add_column("question")
            for q in list_queries(sql_dir):
                table.add_row(q.name, q.question)
            console.print(table)
            return
        if (name is None) == (file is None):
            raise GamelakeError(
                "give a question name or --file (not both)",
                fix="`gamelake query --list` shows the questions",
            )
        q = read_query_file(file) if file else load_query(sql_dir, name)
        conn = trino_client.connect(settings.trino, catalog=catalog)
        print_result(console, trino_client.run(conn, q.sql), title=q.question or q.name)

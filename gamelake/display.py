"""Printing query results for people: rich tables on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gamelake.trino_client import Result


def print_result(console: Console, result: Result, title: str | None = None) -> None:
    """Print a query result as a table; NULLs spelled out."""
    table = Table(title=title)
    for col in result.columns:
        table.add_column(col)
    for row in result.rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console.print(table)

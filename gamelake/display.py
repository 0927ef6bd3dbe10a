"""Printing query results for people: rich tables on the terminal."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from gamelake.trino_client import Result


def make_console(stderr: bool = False) -> Console:
    """A console that does not squeeze tables to 80 columns when output is piped to a log."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def print_result(console: Console, result: Result, title: str | None = None) -> None:
    """Print a query result as a table; NULLs spelled out."""
    table = Table(title=title)
    for col in result.columns:
        table.add_column(col)
    for row in result.rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console.print(table)

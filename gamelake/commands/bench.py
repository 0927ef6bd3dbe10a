"""`gamelake bench [SCENARIO [ARGS...]]`: run benchmarks of bench/ (the same dispatcher as
`python -m bench`), and `gamelake bench summary` to rebuild bench/results/SUMMARY.md."""

from __future__ import annotations

import sys

import typer


def register(app: typer.Typer) -> None:
    @app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Run a benchmark scenario of bench/ (all when none is named; `summary` rebuilds "
        "bench/results/SUMMARY.md from the JSON results). Extra arguments go to the scenario, "
        "e.g. `gamelake bench ingest --events 200000`.",
    )
    def bench(
        ctx: typer.Context,
        scenario: str = typer.Argument(None, help="Scenario name, or `summary`; none: all."),
    ) -> None:
        from gamelake.config import project_root

        # bench/ is a folder of the repository, not of the installed package.
        root = str(project_root())
        if root not in sys.path:
            sys.path.insert(0, root)
        if scenario == "summary":
            from bench._summary import main as summary

            summary(list(ctx.args))
            return
        from bench.__main__ import main as dispatch

        code = dispatch(([scenario] if scenario else []) + list(ctx.args))
        if code:
            raise typer.Exit(code)

"""`gamelake dq`: rule pass rates from ops.dq_results, and a table's suite on demand."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from gamelake.commands._options import Lake

log = logging.getLogger("gamelake")

CHECK_APP_ID = "dq-check"


def _lake(ctx: typer.Context, lake: Path | None) -> Path:
    from gamelake import lakefs

    return lakefs.resolved(lakefs.located(lake, ctx.obj.s3) if lake else ctx.obj.paths.lake)


def _split(table: str) -> tuple[str, str]:
    from gamelake.errors import GamelakeError

    if table.count(".") != 1:
        raise GamelakeError(f"table {table!r} is not layer.table", fix="e.g. silver.player")
    layer, name = table.split(".")
    return layer, name


def check_table_now(spark, settings, lake: Path, table: str):
    """Run `table`'s rules on its current Delta version; record and return (version, results)."""
    from delta.tables import DeltaTable

    from gamelake.conventions import is_delta_table, table_path
    from gamelake.dq.gate import check_table
    from gamelake.dq.results import new_run_id, write_results
    from gamelake.dq.rules import load_rules, rules_for
    from gamelake.dq.suite import SuiteRunner
    from gamelake.errors import GamelakeError

    layer, name = _split(table)
    all_rules = load_rules(settings.paths.conf / "rules")
    rules = rules_for(all_rules, layer, name)
    if not rules:
        raise GamelakeError(
            f"no rules for {table}",
            fix=f"add conf/rules/{table}.yaml; tables with rules: {', '.join(all_rules)}",
        )
    path = table_path(lake, layer, name)
    if not is_delta_table(path):
        raise GamelakeError(f"no Delta table at {path}", fix="run the pipeline first")
    version = int(DeltaTable.forPath(spark, str(path)).history(1).collect()[0]["version"])
    df = spark.read.format("delta").option("versionAsOf", version).load(str(path))
    runner = SuiteRunner(docs_dir=settings.paths.state / "reports" / "dq")
    results = check_table(spark, df, rules, lake, runner)
    # On demand: every run is its own evaluation (batch_id = the Delta version checked).
    write_results(spark, lake, results, new_run_id(), CHECK_APP_ID, version, idempotent=False)
    return version, results


def report(
    ctx: typer.Context,
    last: int = typer.Option(20, "--last", min=1, help="Evaluations (batches) per table."),
    table: str = typer.Option(None, "--table", help="Only this layer.table."),
    lake: Lake = None,
) -> None:
    """Per table, the pass rate of each rule over its last N evaluations (ops.dq_results)."""
    from rich.table import Table

    from gamelake.conventions import is_delta_table, table_path
    from gamelake.display import make_console
    from gamelake.dq.report import pass_rates
    from gamelake.dq.results import RESULTS_TABLE
    from gamelake.errors import GamelakeError
    from gamelake.spark import build_session

    path = table_path(_lake(ctx, lake), "ops", RESULTS_TABLE)
    if not is_delta_table(path):
        raise GamelakeError(f"no results yet at {path}", fix="run the pipeline or `dq check`")
    spark = build_session(ctx.obj, app_name="gamelake-dq-report")
    try:
        results = spark.read.format("delta").load(str(path))
        if table:
            layer, name = _split(table)
            results = results.where((results.layer == layer) & (results.table_name == name))
        rows = pass_rates(results, last).collect()
    finally:
        spark.stop()
    out = Table(title=f"rule pass rates over the last {last} evaluations per table")
    for col in ("table", "rule", "action", "evals", "pass rate", "unexpected rows",
                "last observed", "last"):  # fmt: skip
        out.add_column(col)
    for r in rows:
        out.add_row(
            f"{r.layer}.{r.table_name}", r.rule, r.action, str(r.evaluations),
            f"{r.pass_rate:.0%}", "" if r.unexpected_rows is None else f"{r.unexpected_rows:,}",
            str(r.last_observed), "pass" if r.last_passed else "FAIL",
        )  # fmt: skip
    make_console().print(out)


def check(
    ctx: typer.Context,
    table: str = typer.Argument(..., help="layer.table, e.g. silver.player_activity"),
    lake: Lake = None,
) -> None:
    """Run a table's rules (GX suite + row and referential rules) on its current version.

    Results go to ops.dq_results, Data Docs to <state>/reports/dq; exits 1 when a
    fail-rule fails.
    """
    from rich.table import Table

    from gamelake.display import make_console
    from gamelake.dq.results import GateFailed, failures
    from gamelake.spark import build_session

    spark = build_session(ctx.obj, app_name="gamelake-dq-check")
    try:
        version, results = check_table_now(spark, ctx.obj, _lake(ctx, lake), table)
    finally:
        spark.stop()
    out = Table(title=f"{table} at Delta version {version}")
    for col in ("rule", "check", "action", "result", "observed", "threshold"):
        out.add_column(col)
    for r in results:
        verdict = "pass" if r.passed else ("FAIL" if r.rule.action == "fail" else r.rule.action)
        out.add_row(r.rule.name, r.rule.kind, r.rule.action, verdict,
                    str(r.observed_value), r.rule.threshold())  # fmt: skip
    make_console().print(out)
    log.info("Data Docs: %s", ctx.obj.paths.state / "reports" / "dq" / "index.html")
    failed = failures(results)
    if failed:
        raise GateFailed(failed, f"{table} (version {version})")


def register(app: typer.Typer) -> None:
    dq_app = typer.Typer(help="Data-quality gates: rule results and checks.", no_args_is_help=True)
    app.add_typer(dq_app, name="dq")
    dq_app.command("report")(report)
    dq_app.command("check")(check)

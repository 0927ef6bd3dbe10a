"""Rule results: one row per rule and evaluation in ops.dq_results, and the gate's verdict.

The column is `table_name`, not `table` (a reserved word in Trino and Spark SQL), as in
ops.stream_progress.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path

from gamelake.conventions import table_path
from gamelake.dq.rules import Rule
from gamelake.errors import GamelakeError
from gamelake.io import ops_session

RESULTS_TABLE = "dq_results"
RESULTS_SCHEMA = (
    "run_id string, app_id string, batch_id long, layer string, table_name string, "
    "rule string, kind string, action string, passed boolean, observed_value string, "
    "threshold string, unexpected_count long, evaluated_count long, evaluated_at timestamp"
)


def new_run_id() -> str:
    """An id for one evaluation attempt (a retried batch gets a new one)."""
    return uuid.uuid4().hex[:16]


@dataclasses.dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule over one batch (or table version)."""

    rule: Rule
    passed: bool
    observed_value: str | None
    unexpected_count: int | None
    evaluated_count: int

    def describe(self) -> str:
        """`layer.table rule (action): observed X, threshold Y`, for people."""
        r = self.rule
        unexpected = (
            f", {self.unexpected_count} of {self.evaluated_count} rows unexpected"
            if self.unexpected_count is not None
            else ""
        )
        return (
            f"{r.table} rule {r.name!r} ({r.action}): observed {self.observed_value}"
            f"{unexpected}; threshold {r.threshold()}"
        )


def unexpected_result(rule: Rule, unexpected: int, evaluated: int) -> RuleResult:
    """The result of a rule judged by how many rows broke it (row-level, referential)."""
    return RuleResult(rule, unexpected == 0, f"{unexpected} unexpected", unexpected, evaluated)


class GateFailed(GamelakeError):
    """A fail-rule failed: the batch or table must not reach the next layer."""

    def __init__(self, failures: Sequence[RuleResult], where: str, fix: str | None = None):
        self.failures = list(failures)
        self.where = where
        # What was done anyway (a gold rebuild publishes the tables that passed).
        self.written: dict[str, int | None] = {}
        lines = "; ".join(f.describe() for f in self.failures)
        super().__init__(
            f"quality gate failed for {where}: {lines}",
            fix=fix
            or "fix the data or relax the rule in conf/rules, then restart: the batch is "
            "reprocessed from the checkpoint",
        )


def failures(results: Sequence[RuleResult]) -> list[RuleResult]:
    """Results of fail-rules that did not pass."""
    return [r for r in results if not r.passed and r.rule.action == "fail"]


def result_rows(
    results: Sequence[RuleResult], run_id: str, app_id: str, batch_id: int, at: dt.datetime
) -> list[tuple]:
    """ops.dq_results rows (RESULTS_SCHEMA order) for one evaluation."""
    rows = []
    for res in results:
        layer, table = res.rule.table.split(".", 1)
        rows.append(
            (run_id, app_id, batch_id, layer, table, res.rule.name, res.rule.kind,
             res.rule.action, res.passed, res.observed_value, res.rule.threshold(),
             res.unexpected_count, res.evaluated_count, at)
        )  # fmt: skip
    return rows


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One evaluation of a table's rules, as ops.dq_results records it."""

    results: Sequence[RuleResult]
    run_id: str
    app_id: str
    batch_id: int


def evaluations_frame(spark, evaluations: Sequence[Evaluation]):
    """ops.dq_results rows of evaluations as one DataFrame (one file), stamped now; in the
    operator tables' session, so appending it runs no auto compaction."""
    at = dt.datetime.now(dt.UTC)
    rows = [
        row
        for e in evaluations
        for row in result_rows(e.results, e.run_id, e.app_id, e.batch_id, at)
    ]
    return ops_session(spark).createDataFrame(rows, RESULTS_SCHEMA).coalesce(1)


def results_frame(spark, results: Sequence[RuleResult], run_id: str, app_id: str, batch_id: int):
    """ops.dq_results rows of one evaluation as a DataFrame (see `evaluations_frame`)."""
    return evaluations_frame(spark, [Evaluation(results, run_id, app_id, batch_id)])


def results_txn_app_id(app_id: str) -> str:
    """The Delta txnAppId of a stage's writes to ops.dq_results."""
    return f"{app_id}.ops.{RESULTS_TABLE}"


def write_evaluations(
    spark, lake: Path, evaluations: Sequence[Evaluation], txn: tuple[str, int] | None = None
) -> None:
    """Append evaluations' results to ops.dq_results in one commit; at most once per
    `txn` (Delta txnAppId, txnVersion) when given."""
    if not any(e.results for e in evaluations):
        return
    writer = (
        evaluations_frame(spark, evaluations)
        .write.format("delta")
        .mode("append")
        .option("mergeSchema", "true")
    )
    if txn is not None:
        writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
    writer.save(str(table_path(lake, "ops", RESULTS_TABLE)))


def write_results(
    spark,
    lake: Path,
    results: Sequence[RuleResult],
    run_id: str,
    app_id: str,
    batch_id: int,
    idempotent: bool,
) -> None:
    """Append one evaluation's results to ops.dq_results.

    `idempotent` (a batch that goes on to be committed): written at most once per (app_id,
    batch_id) via Delta txnAppId/txnVersion, so a crash-replay adds nothing. A failed
    attempt is appended without them: its rows must not block the retried attempt's.
    """
    txn = (results_txn_app_id(app_id), batch_id) if idempotent else None
    write_evaluations(spark, lake, [Evaluation(results, run_id, app_id, batch_id)], txn)

"""The quality gate of a stage: row rules inside the micro-batch, then the batch verdict.

Silver (streaming), inside the batch handler, before anything is written:

    gate = SilverGate(rules, lake, app_id, SuiteRunner(docs_dir))
    parsed = {f: gate.rows(parse_family(batch, c), c).persist() for f, c in present}
    counted = {f: p.agg(valid, *gate.count_columns(c)).first() for f, p in parsed.items()}
    results = gate.judge(spark, parsed, contracts, counted)
    gate.verdict(spark, batch_id, results)   # raises GateFailed: nothing written
    ... the results are appended to ops.dq_results with the batch's other writes

`rows` appends the failed drop rules to parse_family's `_rules`/`_reasons`, so the
existing to_silver / to_quarantine / to_children route those rows to quarantine with
every failed rule name. `judge` turns the row-rule counts into results and runs the
batch-level GX suites and the referential checks on the rows bound for silver; `verdict`
records a failed attempt and raises. `check` does all three (replays, tests).

Gold and `gamelake dq check`: `check_table` runs every rule of a table over a DataFrame;
`TableGate.check` does so before a batch gold table is published, `TableGate.record`
stores the results of a whole rebuild at once.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from gamelake.contracts import Contract
from gamelake.conventions import is_delta_table, table_path
from gamelake.dq.metrics import batch_metric_aggs, batch_results
from gamelake.dq.reference import ReferenceKeys, key_values, unknown_values
from gamelake.dq.results import (
    Evaluation,
    GateFailed,
    RuleResult,
    failures,
    new_run_id,
    unexpected_result,
    write_evaluations,
    write_results,
)
from gamelake.dq.row import (
    DROP_REASONS,
    DROP_RULES,
    apply_row_rules,
    row_rule_aggs,
    row_rule_columns,
    row_rule_counts,
    row_rule_flags,
    row_rule_values,
)
from gamelake.dq.rules import Rule, check_columns, load_rules, rules_for
from gamelake.dq.suite import SuiteRunner
from gamelake.silver import is_valid, per_contract, silver_columns, to_silver

log = logging.getLogger(__name__)

CONTRACT_OK = "_contract_ok"
BOUND_ROWS = "_bound_rows"
# Families judged at once: their Spark jobs (Arrow transfers, anti-joins) overlap on 2 cores.
SUITE_THREADS = 3


def referential_results(
    spark: SparkSession, df: DataFrame, rules: Sequence[Rule], lake: Path
) -> list[RuleResult]:
    """Referential rules over `df`: values absent from the reference table (one job each).

    A reference table that does not exist yet (dimensions arrive late) knows no keys.
    """
    results = []
    for r in (r for r in rules if r.level == "referential"):
        layer, table = str(r.ref_table).split(".", 1)
        path = table_path(lake, layer, table)
        values = df.select(F.col(str(r.column)).alias("_v")).where(F.col("_v").isNotNull())
        if is_delta_table(path):
            keys = (
                spark.read.format("delta")
                .load(str(path))
                .select(F.col(str(r.ref_column)).alias("_k"))
                .where(F.col("_k").isNotNull())
                .distinct()
            )
            joined = values.join(keys, values["_v"] == keys["_k"], "left")
            row = joined.agg(
                F.count(F.lit(1)).alias("n"), F.sum(F.col("_k").isNull().cast("long")).alias("bad")
            ).collect()[0]
            evaluated, unexpected = int(row["n"]), int(row["bad"] or 0)
        else:
            evaluated = values.count()
            unexpected = evaluated
        results.append(unexpected_result(r, unexpected, evaluated))
    return results


def row_results(
    flagged: DataFrame, rules: Sequence[Rule], where=None
) -> tuple[int, list[RuleResult]]:
    """(rows evaluated, results) of the row-level rules over `apply_row_rules` output."""
    evaluated, counts = row_rule_counts(flagged, rules, where)
    return evaluated, _counted_results(rules, evaluated, counts)


def _counted_results(
    rules: Sequence[Rule], evaluated: int, counts: Mapping[str, int]
) -> list[RuleResult]:
    """The results of the row-level rules from their counts of failing rows."""
    return [unexpected_result(r, counts[r.name], evaluated) for r in rules if r.level == "row"]


def check_table(
    spark: SparkSession,
    df: DataFrame,
    rules: Sequence[Rule],
    lake: Path,
    runner: SuiteRunner,
) -> list[RuleResult]:
    """Every rule of a table over `df` (a gold table before publication, a table on demand)."""
    if not rules:
        return []
    check_columns(rules, df.columns, rules[0].table)
    flagged = apply_row_rules(df, rules)
    evaluated, results = row_results(flagged, rules)
    results += runner.run(df, rules, rows=evaluated)
    results += referential_results(spark, df, rules, lake)
    order = {r.name: i for i, r in enumerate(rules)}
    return sorted(results, key=lambda res: order[res.rule.name])


@dataclasses.dataclass
class TableGate:
    """The rules of tables published whole (batch gold), checked before each publication.

    `check` keeps each table's results; `record` appends all of them to ops.dq_results in
    one commit once the tables are published or held back (a Delta commit costs a second or
    more here, several times the checks of a small table).
    """

    rules: Mapping[str, list[Rule]]
    lake: Path
    runner: SuiteRunner
    pending: list[Evaluation] = dataclasses.field(default_factory=list)

    def check(
        self, spark: SparkSession, table: str, df: DataFrame, version: int
    ) -> list[RuleResult]:
        """Results of `table`'s (layer.table) rules over `df`, about to become Delta `version`
        (its batch id in ops.dq_results), kept for `record`; raises GateFailed when a
        fail-rule failed. A table without rules passes."""
        layer, name = table.split(".", 1)
        rules = rules_for(self.rules, layer, name)
        if not rules:
            return []
        started = time.monotonic()
        results = check_table(spark, df, rules, self.lake, self.runner)
        log.info("dq %s: %d rules checked in %.1f s", table, len(rules), time.monotonic() - started)
        self.pending.append(Evaluation(results, new_run_id(), f"publish.{table}", version))
        failed = failures(results)
        if failed:
            raise GateFailed(failed, table)
        return results

    def published(self, table: str, version: int) -> None:
        """Note that `table`'s checked rows became Delta `version`, not the version `check`
        was given (a commit that lost to a concurrent one and was written again)."""
        app_id = f"publish.{table}"
        self.pending = [
            dataclasses.replace(e, batch_id=version) if e.app_id == app_id else e
            for e in self.pending
        ]

    def record(self, spark: SparkSession) -> None:
        """Append the results kept since the last call to ops.dq_results, in one commit."""
        evaluations, self.pending = self.pending, []
        write_evaluations(spark, self.lake, evaluations)


def table_gate(conf_dir: Path, lake: Path, state_dir: Path | None = None) -> TableGate:
    """The publication gate of conf_dir/rules; Data Docs of failed checks under
    <state>/reports/dq."""
    return TableGate(load_rules(conf_dir / "rules"), lake, _runner(state_dir))


def _runner(state_dir: Path | None) -> SuiteRunner:
    docs = state_dir / "reports" / "dq" if state_dir is not None else None
    return SuiteRunner(docs, docs_always=False)


@dataclasses.dataclass(frozen=True)
class _RowPlan:
    """The Column expressions `SilverGate` adds to a family's parsed rows. Building them is
    hundreds of py4j calls that depend on the rules and the contract alone (~0.4 s of driver
    time a batch over nine families, measured), so each gate builds them once per contract."""

    staged: dict[str, Column]  # silver values the row rules read, for rows that met their contract
    flags: dict[str, Column]  # row_rule_flags over the staged rows
    verdict: dict[str, Column]  # the failed drop rules joined to `_rules` / `_reasons`
    counts: list[Column]  # count_columns


def _count_columns(rules: Sequence[Rule], contract: Contract) -> list[Column]:
    """The aggregations of `SilverGate.count_columns` for a family's rules."""
    bound = is_valid()
    return [
        *row_rule_aggs(rules, where=F.col(CONTRACT_OK)),
        F.sum(bound.cast("long")).alias(BOUND_ROWS),
        *batch_metric_aggs(rules, silver_columns(contract), bound),
    ]


def _row_plan(rules: Sequence[Rule], contract: Contract) -> _RowPlan | None:
    """The `_RowPlan` of a family's rules (None without rules)."""
    if not rules:
        return None
    columns = silver_columns(contract)
    check_columns(rules, list(columns), f"silver.{contract.family}")
    # Only what the row rules read: batch-level rules judge to_silver's output later.
    read = row_rule_columns(rules, list(columns))
    ok = is_valid()
    # A repeated key keeps its first row in Kafka order (the same on every replay of the
    # batch), rows that met their contract first: a broken row never displaces a good one.
    order = [~ok, F.col("topic"), F.col("kafka_partition"), F.col("kafka_offset")]
    return _RowPlan(
        # Only rows that met their contract get silver values: casts and splits of a broken
        # value (e.g. "[1]" as coordinates) raise under ANSI mode, as to_silver never sees them.
        staged={c: F.when(ok, columns[c]) for c in columns if c in read},
        flags=row_rule_flags(rules, order),
        verdict={
            CONTRACT_OK: ok,
            "_rules": F.when(ok, F.concat("_rules", DROP_RULES)).otherwise(F.col("_rules")),
            "_reasons": F.when(ok, F.concat("_reasons", DROP_REASONS)).otherwise(F.col("_reasons")),
        },
        counts=_count_columns(rules, contract),
    )


@dataclasses.dataclass
class SilverGate:
    """Row rules and batch suites of the silver tables, bound to a lake and a stream's app id."""

    rules: Mapping[str, list[Rule]]
    lake: Path
    app_id: str
    runner: SuiteRunner
    references: ReferenceKeys = dataclasses.field(default_factory=ReferenceKeys)

    def __post_init__(self) -> None:
        # The Column expressions of `rows` and `count_columns`, built once per contract (None:
        # the family has no rules). A gate made by `bound` builds its own.
        self._row_plan = per_contract(
            lambda contract: _row_plan(self.table_rules(contract.family), contract)
        )

    def bound(self, app_id: str) -> SilverGate:
        """This gate for the stream whose Delta txnAppId is `app_id` (known once it starts)."""
        return dataclasses.replace(self, app_id=app_id)

    def table_rules(self, family: str) -> list[Rule]:
        return rules_for(self.rules, "silver", family)

    def rows(self, parsed: DataFrame, contract: Contract) -> DataFrame:
        """parse_family output with the family's failed drop rules added to `_rules`/`_reasons`.

        Rules read silver column names, so the silver columns are computed alongside for
        the check and removed again; rows that failed their contract are not checked.
        """
        plan = self._row_plan(contract)
        if plan is None:
            return parsed.withColumn(CONTRACT_OK, is_valid())
        added = [c for c in plan.staged if c not in parsed.columns]
        staged = parsed.withColumns({c: plan.staged[c] for c in added})
        return staged.withColumns(plan.flags).withColumns(plan.verdict).drop(*added)

    def count_columns(self, contract: Contract) -> list[Column]:
        """Aggregations for the job that counts the batch's valid rows (`judge(counted=...)`
        reads them): the family's row rules over the rows that met their contract, and its
        batch rules' metrics over the rows bound for silver."""
        plan = self._row_plan(contract)
        if plan is not None:
            return plan.counts
        return _count_columns(self.table_rules(contract.family), contract)

    def judge(
        self,
        spark: SparkSession,
        gated: Mapping[str, DataFrame],
        contracts: Mapping[str, Contract],
        counted: Mapping[str, Row] | None = None,
        silver: Mapping[str, DataFrame] | None = None,
    ) -> list[RuleResult]:
        """Every rule's result over one micro-batch (`rows` outputs by family); writes nothing.

        `counted`: per family, a row of `count_columns` aggregations already computed (else
        one job per family counts them). `silver`: per family, `to_silver` of its rows as the
        caller already planned it (planning analyses every silver column, each batch).
        Batch rules are judged from those metrics; a family whose metrics fail a rule or
        cannot settle one is validated by its GX suite instead.
        Families' suites and referential checks run side by side: their Spark jobs overlap,
        only GX's validations take turns.
        """

        spent: dict[str, str] = {}
        planned = dict(silver or {})

        def bound_rows(family: str) -> DataFrame:
            if family not in planned:
                planned[family] = to_silver(gated[family], contracts[family])
            return planned[family]

        def family_results(family: str) -> list[RuleResult]:
            rules, parsed = self.table_rules(family), gated[family]
            row = counted.get(family) if counted is not None else None
            if row is None:  # not counted by the caller: a job of its own
                row = parsed.agg(*self.count_columns(contracts[family])).first()
            results = _counted_results(rules, *row_rule_values(row, rules))
            if any(r.level != "row" for r in rules):
                started = time.monotonic()
                bound = bound_rows(family)
                native = batch_results(rules, row, int(row[BOUND_ROWS] or 0))
                passed = native is not None and all(r.passed for r in native)
                # The suite has the last word (and writes Data Docs) where metrics do not pass.
                results += native if passed else self.runner.run(bound, rules)
                suite_at = time.monotonic()
                results += self.referential(spark, bound, rules, gated, bound_rows)
                spent[family] = (
                    f"{family} {'metrics' if passed else 'suite'} {suite_at - started:.1f} s"
                    f" referential {time.monotonic() - suite_at:.1f} s"
                )
            return results

        families = [f for f in gated if self.table_rules(f)]
        with ThreadPoolExecutor(max_workers=SUITE_THREADS) as pool:
            results = [res for rs in pool.map(family_results, families) for res in rs]
        if spent:
            log.info("dq batch rules: %s", "; ".join(spent[f] for f in families if f in spent))
        return results

    def referential(
        self,
        spark: SparkSession,
        bound: DataFrame,
        rules: Sequence[Rule],
        gated: Mapping[str, DataFrame],
        silver_of: Callable[[str], DataFrame],
    ) -> list[RuleResult]:
        """Referential rules over a batch's silver rows: values neither in the reference table
        nor arriving in the same batch (a room and the activity in it often land together,
        read from `silver_of(family)`)."""
        results = []
        for r in (r for r in rules if r.level == "referential"):
            layer, table = str(r.ref_table).split(".", 1)
            path = table_path(self.lake, layer, table)
            known = self.references.known(spark, path, str(r.ref_column))
            arriving: set[str] = set()
            if layer == "silver" and table in gated:
                arriving = key_values(silver_of(table), str(r.ref_column))
            evaluated, unexpected = unknown_values(bound, str(r.column), known, arriving)
            results.append(unexpected_result(r, unexpected, evaluated))
        return results

    def verdict(self, spark: SparkSession, batch_id: int, results: Sequence[RuleResult]) -> None:
        """Log the failed warn rules; if a fail-rule failed, record this attempt in
        ops.dq_results (a new run id, not idempotent) and raise GateFailed."""
        for w in (r for r in results if not r.passed and r.rule.action == "warn"):
            log.warning("dq warn, batch %d: %s", batch_id, w.describe())
        failed = failures(results)
        if failed:
            write_results(
                spark, self.lake, results, new_run_id(), self.app_id, batch_id, idempotent=False
            )
            raise GateFailed(failed, f"silver batch {batch_id}")

    def check(
        self,
        spark: SparkSession,
        batch_id: int,
        gated: Mapping[str, DataFrame],
        contracts: Mapping[str, Contract],
        counted: Mapping[str, Row] | None = None,
    ) -> list[RuleResult]:
        """Judge one micro-batch and record the results; raise GateFailed when a fail-rule
        failed, before the caller writes anything.

        Results are appended to ops.dq_results either way: at most once per batch when the
        batch passes, as a separate attempt (new run id) when it fails.
        """
        results = self.judge(spark, gated, contracts, counted)
        self.verdict(spark, batch_id, results)
        write_results(
            spark, self.lake, results, new_run_id(), self.app_id, batch_id, idempotent=True
        )
        return results


def silver_gate(
    conf_dir: Path, lake: Path, app_id: str = "", state_dir: Path | None = None
) -> SilverGate:
    """The silver gate of conf_dir/rules, writing Data Docs of failing batches under
    <state>/reports/dq.

    `app_id` may be left empty and bound by the stream (`SilverGate.bound`).
    """
    return SilverGate(load_rules(conf_dir / "rules"), lake, app_id, _runner(state_dir))

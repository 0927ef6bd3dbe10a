"""Batch-level rules as Great Expectations 1.x suites, built from the same rule files.

Engine choice (measured, bench/results/gates.json): GX's Spark engine runs one Spark job
per metric (~25 jobs for 5 expectations) and costs 3.5-9 s per suite on a 2-core machine
whatever the batch size, which inside a micro-batch handler is several times the batch
itself. So the suite validates the batch's rows with GX's pandas engine, on only the
columns the batch-level rules read, moved to the driver through Arrow (`DataFrame.toArrow`):
~1 s per 100k rows. Tables above `max_pandas_rows` rows (a `gamelake dq check` of a big
table) are validated by GX's Spark engine instead, on the same suite.

Freshness has no GX expectation of its own: it becomes expect_column_max_to_be_between
with min_value = anchor - max_lag, the anchor (now, or the max of `relative_to`) computed
first. Decimals are cast to double for pandas (mean/stddev of Python Decimals).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from gamelake.dq.results import RuleResult
from gamelake.dq.rules import Rule

log = logging.getLogger(__name__)

MAX_PANDAS_ROWS = 2_000_000
KEEP_RESULTS = 50
DOCS_SITE = "gamelake"
_DISTRIBUTION = ("mean", "stddev", "distinct_ratio")
# Checks that judge the values a batch has: without any, there is nothing to judge.
NEEDS_VALUES = (*_DISTRIBUTION, "freshness")


def batch_rules(rules: Sequence[Rule]) -> list[Rule]:
    """The rules a GX suite evaluates (batch level)."""
    return [r for r in rules if r.level == "batch"]


def suite_columns(rules: Sequence[Rule]) -> list[str]:
    """The columns a table's batch-level rules read (what is moved to pandas)."""
    cols: list[str] = []
    for r in batch_rules(rules):
        for c in (r.column, r.relative_to):
            if c and c not in cols:
                cols.append(c)
    return cols


def _when(anchor: dt.datetime, lag_s: float) -> dt.datetime:
    return anchor - dt.timedelta(seconds=float(lag_s))


def expectation(rule: Rule, anchors: dict[str, dt.datetime | None]):
    """The GX expectation of one batch-level rule (`anchors`: freshness reference times)."""
    import great_expectations as gx

    e = gx.expectations
    meta = {"rule": rule.name, "action": rule.action, "description": rule.description}
    bounds = {"min_value": rule.min, "max_value": rule.max}
    k = rule.kind
    if k == "unique":
        return e.ExpectColumnValuesToBeUnique(column=rule.column, meta=meta)
    if k == "row_count":
        return e.ExpectTableRowCountToBeBetween(**bounds, meta=meta)
    if k == "mean":
        return e.ExpectColumnMeanToBeBetween(column=rule.column, **bounds, meta=meta)
    if k == "stddev":
        return e.ExpectColumnStdevToBeBetween(column=rule.column, **bounds, meta=meta)
    if k == "distinct_ratio":
        return e.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column=rule.column, **bounds, meta=meta
        )
    if k == "freshness":
        anchor = anchors.get(rule.name)
        floor = _when(anchor, rule.max_lag_s or 0) if anchor is not None else None
        return e.ExpectColumnMaxToBeBetween(column=rule.column, min_value=floor, meta=meta)
    raise ValueError(f"{k} is not a batch-level check")


def _freshness_anchors(
    df: DataFrame, rules: Sequence[Rule], now: dt.datetime
) -> dict[str, dt.datetime | None]:
    """The time each freshness rule measures lag from: now, or max(relative_to), in one job."""
    fresh = [r for r in rules if r.kind == "freshness"]
    relative = sorted({r.relative_to for r in fresh if r.relative_to})
    maxima: dict[str, Any] = {}
    if relative:
        row = df.agg(*[F.max(c).alias(c) for c in relative]).collect()[0]
        maxima = {c: row[c] for c in relative}
    anchors = {}
    for r in fresh:
        anchor = maxima.get(r.relative_to) if r.relative_to else now
        if isinstance(anchor, dt.datetime) and anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=dt.UTC)  # the session time zone is UTC
        anchors[r.name] = anchor
    return anchors


def _to_pandas(df: DataFrame, columns: Sequence[str]):
    """The batch's rule columns as a pandas frame (Arrow), decimals as doubles."""
    types = {f.name: f.dataType for f in df.schema}
    cols = [
        F.col(c).cast("double").alias(c) if isinstance(types[c], T.DecimalType) else F.col(c)
        for c in columns
    ]
    if not cols:
        cols = [F.lit(1).alias("_row")]  # row_count alone still needs the rows
    return df.select(*cols).toArrow().to_pandas()


@dataclasses.dataclass(frozen=True)
class _Batch:
    """What a validation judges, computed by Spark before GX runs."""

    rules: Sequence[Rule]
    rows: int
    anchors: dict[str, dt.datetime | None]
    data: Any  # a pandas frame (on_pandas) or the Spark DataFrame
    on_pandas: bool
    values: dict[str, int]  # non-null values per rule column


@dataclasses.dataclass
class _Engine:
    context: Any
    definitions: dict[tuple[str, str, str], Any]


class SuiteRunner:
    """Runs tables' batch-level suites with GX, writing Data Docs to `docs_dir` if given
    (for every validation, or with `docs_always=False` only for those that failed).

    One ephemeral GX context per runner; suites are (re)built from the rules on each run,
    so a relaxed rule takes effect at the next batch.
    """

    def __init__(
        self,
        docs_dir: Path | None = None,
        max_pandas_rows: int = MAX_PANDAS_ROWS,
        docs_always: bool = True,
    ):
        self.docs_dir = docs_dir
        # False: only validations with a failed expectation update the docs (a stream's
        # batches: rebuilding the site costs seconds per batch).
        self.docs_always = docs_always
        self.max_pandas_rows = max_pandas_rows
        self._engine: _Engine | None = None
        self._lock = threading.Lock()
        self._seq = 0

    def warm_up(self) -> None:
        """Import GX and build its context now (several seconds, once), not in a first batch."""
        with self._lock:
            self._context()

    def _context(self) -> _Engine:
        if self._engine is None:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no phoning home
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
            # Progress bars per metric would flood the stream's log every micro-batch.
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
            if self.docs_dir is not None:
                self.docs_dir.mkdir(parents=True, exist_ok=True)
                ctx.add_data_docs_site(
                    DOCS_SITE,
                    {
                        "class_name": "SiteBuilder",
                        "store_backend": {
                            "class_name": "TupleFilesystemStoreBackend",
                            "base_directory": str(self.docs_dir),
                        },
                        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    },
                )
            self._engine = _Engine(ctx, {})
        return self._engine

    def _with_docs(self, ctx, name: str, vd, params: dict):
        """Validate through a checkpoint that updates the Data Docs site; the result."""
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        checkpoint = ctx.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=[vd],
                actions=[UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])],
                result_format="BASIC",
            )
        )
        try:
            outcome = checkpoint.run(**params)
        finally:
            ctx.checkpoints.delete(name)
        self._forget_old_results(ctx)
        (validation,) = outcome.run_results.values()
        return validation

    def _forget_old_results(self, ctx) -> None:
        """Keep the newest KEEP_RESULTS in memory: a long stream would grow them (and the
        docs index rebuilt per batch) without end; older pages stay on disk."""
        store = ctx.validation_results_store
        keys = store.list_keys()
        if len(keys) > KEEP_RESULTS:
            by_age = sorted(keys, key=lambda k: str(k.run_id.run_time))
            for key in by_age[: len(keys) - KEEP_RESULTS]:
                store.remove_key(key)

    def run(
        self,
        df: DataFrame,
        rules: Sequence[Rule],
        rows: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[RuleResult]:
        """Results of the batch-level rules of one table over `df` (GX), in rule order.

        `rows`: the row count if the caller knows it (saves a Spark job). Several threads may
        run tables at once: their Spark jobs overlap, only the GX validations take turns.
        """
        chosen = batch_rules(rules)
        if not chosen:
            return []
        batch = self._prepare(df, chosen, rows, now or dt.datetime.now(dt.UTC))
        with self._lock:  # GX contexts are not thread-safe; streams may share a runner
            return self._validate(batch)

    def _prepare(self, df, rules, rows, now) -> _Batch:
        """The Spark side of a validation: row count, freshness anchors, the data to judge."""
        rows = df.count() if rows is None else rows
        anchors = _freshness_anchors(df, rules, now)
        columns = suite_columns(rules)
        if rows <= self.max_pandas_rows:
            data = _to_pandas(df, columns)
            return _Batch(
                rules, rows, anchors, data, True, {c: int(data[c].notna().sum()) for c in columns}
            )
        values = {}
        if columns:
            counted = df.agg(*[F.count(c).alias(c) for c in columns]).collect()[0]
            values = {c: int(counted[c]) for c in columns}
        return _Batch(rules, rows, anchors, df, False, values)

    def _validate(self, batch: _Batch) -> list[RuleResult]:
        import great_expectations as gx

        rules, rows, anchors = batch.rules, batch.rows, batch.anchors
        ctx = self._context().context
        self._seq += 1
        name = f"{rules[0].table}.{self._seq}"
        suite = ctx.suites.add(gx.ExpectationSuite(name=name))
        for r in rules:
            suite.add_expectation(expectation(r, anchors))
        if batch.on_pandas:
            source = ctx.data_sources.add_pandas(name=f"p.{name}")
        else:
            source = ctx.data_sources.add_spark(name=f"s.{name}", persist=False)
        batch_def = source.add_dataframe_asset(name="batch").add_batch_definition_whole_dataframe(
            "whole"
        )
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_def, suite=suite)
        )
        try:
            params = {"batch_parameters": {"dataframe": batch.data}}
            if self.docs_dir is not None and self.docs_always:
                validation = self._with_docs(ctx, name, vd, params)
            else:
                validation = vd.run(**params, result_format="BASIC")
                if self.docs_dir is not None and not validation.success:
                    self._with_docs(ctx, name, vd, params)  # the failing batch gets its page
        finally:
            ctx.validation_definitions.delete(name)
            ctx.suites.delete(name)
            ctx.data_sources.delete(source.name)
        by_rule = {res.expectation_config.meta["rule"]: res for res in validation.results}
        return [
            _result(r, by_rule[r.name], rows, anchors.get(r.name))
            if r.kind not in NEEDS_VALUES or batch.values.get(str(r.column))
            else RuleResult(r, True, "no values", None, rows)
            for r in rules
        ]


def warm_up_in_background(runners: Sequence[SuiteRunner]) -> None:
    """Import GX and build the runners' contexts in a daemon thread, one runner after the
    other (the first pays the import): seconds of one core, better spent while the JVM or a
    query starts than in the first batch that is checked. A warm runner returns at once."""

    def warm_all() -> None:
        for runner in runners:
            runner.warm_up()

    if runners:
        threading.Thread(target=warm_all, name="gx-warm-up", daemon=True).start()


def fmt_observed(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _as_utc(value: Any) -> dt.datetime | None:
    """A GX observed max as an aware UTC datetime (pandas Timestamp, datetime or ISO text)."""
    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def _result(rule: Rule, res, rows: int, anchor: dt.datetime | None) -> RuleResult:
    """A RuleResult from a GX ExpectationValidationResult."""
    info = res.exception_info or {}
    if info.get("raised_exception"):
        message = info.get("exception_message") or "GX raised"
        return RuleResult(rule, False, f"error: {message[:200]}", None, rows)
    result = res.result or {}
    observed = result.get("observed_value")
    passed = bool(res.success)
    if rule.kind in _DISTRIBUTION and observed is None:
        # No non-null values (an empty batch): nothing to judge a distribution by.
        return RuleResult(rule, True, "no values", None, rows)
    if rule.kind == "freshness":
        latest = _as_utc(observed)
        if latest is None:
            return RuleResult(rule, True, "no values", None, rows)
        if anchor is None:
            return RuleResult(rule, True, f"max {latest.isoformat()} (no anchor)", None, rows)
        lag = (anchor - latest).total_seconds()
        return RuleResult(rule, passed, f"lag {lag:.0f} s", None, rows)
    if rule.kind == "unique":
        unexpected = int(result.get("unexpected_count") or 0)
        return RuleResult(
            rule,
            passed,
            f"{unexpected} unexpected",
            unexpected,
            int(result.get("element_count", rows)),
        )
    return RuleResult(rule, passed, fmt_observed(observed), None, rows)

"""Batch-level rules judged from aggregates a micro-batch computes anyway.

A Great Expectations validation costs 1-2 s per table on GX's pandas engine whatever the
batch's size (measured: 0.7-3.1 s per family for 100-row batches, taking turns on one lock),
a fixed tax on every silver micro-batch. The silver gate instead adds each batch rule's
metrics (mean, sample stddev, distinct and non-null counts, max) to the aggregation that
already counts the batch's valid rows, and judges them here with the same thresholds and the
same observed values GX reports (tests/unit/test_dq_metrics.py compares both on the same
frames). A batch whose native verdict fails, or that a metric cannot settle, is validated by
the GX suite as before, so failed batches keep GX's results and Data Docs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, Row
from pyspark.sql import functions as F

from gamelake.dq.results import RuleResult
from gamelake.dq.rules import Rule
from gamelake.dq.suite import NEEDS_VALUES, batch_rules, fmt_observed

_PREFIX = "_bm"


def _name(rule: Rule, metric: str) -> str:
    return f"{_PREFIX}.{rule.name}.{metric}"


def batch_metric_aggs(
    rules: Sequence[Rule], columns: Mapping[str, Column], where: Column
) -> list[Column]:
    """Aggregations of the batch-level rules' metrics over the rows where `where` holds,
    `columns` giving each rule column's value (read from `batch_results`)."""
    aggs = []
    for r in batch_rules(rules):
        if r.kind == "row_count":
            continue  # the caller's row count
        value = F.when(where, columns[str(r.column)])
        aggs.append(F.count(value).alias(_name(r, "values")))
        if r.kind == "mean":
            aggs.append(F.mean(value.cast("double")).alias(_name(r, "metric")))
        elif r.kind == "stddev":
            aggs.append(F.stddev_samp(value.cast("double")).alias(_name(r, "metric")))
        elif r.kind in ("distinct_ratio", "unique"):
            aggs.append(F.count_distinct(value).alias(_name(r, "distinct")))
        elif r.kind == "freshness":
            aggs.append(F.max(value).alias(_name(r, "metric")))
            if r.relative_to:
                anchor = F.max(F.when(where, columns[r.relative_to]))
                aggs.append(anchor.alias(_name(r, "anchor")))
    return aggs


def _utc(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # the session time zone is UTC
    return value


def _between(value: float, rule: Rule) -> bool:
    return (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)


def _judge(rule: Rule, row: Row, rows: int, now: dt.datetime) -> RuleResult | None:
    """One batch rule's result from the aggregated row; None when the metrics cannot settle
    it here (a duplicate's count, a NaN): the suite decides."""
    if rule.kind == "row_count":
        return RuleResult(rule, _between(rows, rule), str(rows), None, rows)
    values = int(row[_name(rule, "values")] or 0)
    if rule.kind in NEEDS_VALUES and not values:
        return RuleResult(rule, True, "no values", None, rows)
    if rule.kind == "unique":
        if int(row[_name(rule, "distinct")]) != values:
            return None  # how many rows share a value takes a group-by: the suite's job
        return RuleResult(rule, True, "0 unexpected", 0, rows)
    if rule.kind == "freshness":
        latest = _utc(row[_name(rule, "metric")])
        anchor = _utc(row[_name(rule, "anchor")]) if rule.relative_to else now
        if anchor is None:
            return RuleResult(rule, True, f"max {latest.isoformat()} (no anchor)", None, rows)
        lag = (anchor - latest).total_seconds()
        return RuleResult(rule, lag <= (rule.max_lag_s or 0), f"lag {lag:.0f} s", None, rows)
    if rule.kind == "distinct_ratio":
        observed = int(row[_name(rule, "distinct")]) / values
    else:  # mean, stddev
        observed = row[_name(rule, "metric")]
        if observed is None or math.isnan(observed):
            return None
    return RuleResult(rule, _between(observed, rule), fmt_observed(observed), None, rows)


def batch_results(
    rules: Sequence[Rule], row: Row, rows: int, now: dt.datetime | None = None
) -> list[RuleResult] | None:
    """The batch-level rules' results from `batch_metric_aggs` values (`rows`: the rows
    judged), in rule order; None when any rule needs the GX suite to be settled."""
    now = now or dt.datetime.now(dt.UTC)
    results = [_judge(r, row, rows, now) for r in batch_rules(rules)]
    return None if any(r is None for r in results) else results  # type: ignore[return-value]

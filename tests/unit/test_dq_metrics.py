"""Batch rules judged from aggregated metrics give what the GX suite gives on the same rows."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from gamelake.dq.metrics import batch_metric_aggs, batch_results
from gamelake.dq.suite import SuiteRunner
from tests.unit.test_dq_suite import ROWS, SCHEMA, T0, rule

NOW = T0.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=30)
CHECKS = [
    {"check": "unique", "column": "x"},
    {"check": "row_count", "min": 1, "max": 4},
    {"check": "row_count", "min": 5},
    {"check": "mean", "column": "x", "min": 1.5, "max": 2.5},
    {"check": "mean", "column": "x", "min": 2.5},
    {"check": "stddev", "column": "x", "max": 2},
    {"check": "stddev", "column": "x", "max": 0.5},
    {"check": "distinct_ratio", "column": "team", "min": 0.5},
    {"check": "distinct_ratio", "column": "team", "min": 0.9},
    {"check": "freshness", "column": "ts", "relative_to": "seen", "max_lag_s": 180},
    {"check": "freshness", "column": "ts", "relative_to": "seen", "max_lag_s": 60},
    {"check": "freshness", "column": "ts", "max_lag_s": 3600},
    {"check": "freshness", "column": "ts", "max_lag_s": 60},
]
BATCHES = {
    "four rows": ROWS,
    "empty": [],
    "all null": [(None, None, None, None, None)],
    "one row": [(1, 2.0, "a", T0, T0)],
}


@pytest.fixture(scope="module")
def runner():
    return SuiteRunner()


def native(spark, rules, rows):
    df = spark.createDataFrame(rows, SCHEMA)
    columns = {c: F.col(c) for c in df.columns}
    row = df.agg(F.count(F.lit(1)).alias("n"), *batch_metric_aggs(rules, columns, F.lit(True)))
    row = row.first()
    return batch_results(rules, row, int(row["n"]), now=NOW)


def summary(results):
    return [(r.passed, r.observed_value, r.unexpected_count, r.evaluated_count) for r in results]


@pytest.mark.parametrize("batch", sorted(BATCHES))
@pytest.mark.parametrize("raw", CHECKS, ids=lambda raw: "-".join(str(v) for v in raw.values()))
def test_metrics_and_the_suite_agree(spark, runner, raw, batch):
    rules = [rule(**raw)]
    rows = BATCHES[batch]
    got = native(spark, rules, rows)
    if got is None:
        # Only what the metrics cannot count is left to the suite: a sample stddev of one value.
        assert raw["check"] == "stddev" and batch == "one row"
        return
    expected = runner.run(spark.createDataFrame(rows, SCHEMA), rules, now=NOW)
    assert summary(got) == summary(expected)


def test_a_repeated_value_is_left_to_the_suite(spark):
    """How many rows share a value takes a group-by the counting pass does not have."""
    assert native(spark, [rule(check="unique", column="id")], ROWS) is None
    assert native(spark, [rule(check="unique", column="team")], ROWS) is None


def test_several_rules_of_a_table_are_judged_in_one_aggregation(spark, runner):
    rules = [rule(**{**raw, "name": f"r{i}"}) for i, raw in enumerate(CHECKS)]
    expected = runner.run(spark.createDataFrame(ROWS, SCHEMA), rules, now=NOW)
    assert summary(native(spark, rules, ROWS)) == summary(expected)

"""Row-level rules on tiny frames: each kind passing and failing, nulls, empty batches, routing."""

from __future__ import annotations

import pytest

from gamelake.dq.row import (
    DROP_REASONS,
    DROP_RULES,
    FAIL_RULES,
    WARN_RULES,
    apply_row_rules,
    dropped_rows,
    passing_rows,
    row_rule_counts,
)
from gamelake.dq.rules import parse_rules

SCHEMA = "id long, x int, s string"
ROWS = [(1, 5, "abc"), (2, 50, "abcdef"), (3, None, None), (4, -1, "zz")]


def rule(**raw):
    base = {"name": "r", "description": "d", "action": "drop"}
    return parse_rules("silver.t", {"rules": [{**base, **raw}]})[0]


def failing_ids(spark, r, rows=ROWS):
    flagged = apply_row_rules(spark.createDataFrame(rows, SCHEMA), [r])
    column = {"drop": DROP_RULES, "warn": WARN_RULES, "fail": FAIL_RULES}[r.action]
    return sorted(row.id for row in flagged.collect() if row[column])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"check": "not_null", "column": "x"}, [3]),
        ({"check": "in_set", "column": "x", "values": [5, 50]}, [4]),  # null passes
        ({"check": "between", "column": "x", "min": 0, "max": 10}, [2, 4]),
        ({"check": "between", "column": "x", "min": 0}, [4]),
        ({"check": "between", "column": "x", "max": 10}, [2]),
        ({"check": "regex", "column": "s", "pattern": "^abc"}, [4]),
        ({"check": "length", "column": "s", "min": 3, "max": 4}, [2, 4]),
        ({"check": "row", "expr": "x < id * 10"}, [2]),  # null result passes
        ({"check": "row", "expr": "s is not null or id > 3"}, [3]),
        ({"check": "in_set", "column": "x", "values": [5, 50, -1]}, []),
    ],
)
def test_each_row_check_flags_exactly_the_breaking_rows(spark, raw, expected):
    assert failing_ids(spark, rule(**raw)) == expected


@pytest.mark.parametrize("action", ["warn", "fail"])
def test_warn_and_fail_rules_flag_without_dropping(spark, action):
    r = rule(check="not_null", column="x", action=action)
    assert failing_ids(spark, r) == [3]
    flagged = apply_row_rules(spark.createDataFrame(ROWS, SCHEMA), [r])
    assert passing_rows(flagged).count() == 4
    assert set(passing_rows(flagged).columns) == {"id", "x", "s"}


def test_a_row_keeps_every_failed_drop_rule_and_why(spark):
    rules = parse_rules(
        "silver.t",
        {
            "rules": [
                {"name": "small", "description": "d", "action": "drop", "check": "between",
                 "column": "x", "max": 10},
                {"name": "short", "description": "d", "action": "drop", "check": "length",
                 "column": "s", "max": 3},
                {"name": "pos", "description": "d", "action": "warn", "check": "between",
                 "column": "x", "min": 0},
            ]
        },
    )  # fmt: skip
    flagged = apply_row_rules(spark.createDataFrame(ROWS, SCHEMA), rules)
    (two,) = dropped_rows(flagged).collect()
    assert two.id == 2
    assert two[DROP_RULES] == ["dq.small", "dq.short"]
    assert two[DROP_REASONS][0] == "small: x = 50 breaks x in [-inf, 10]"
    assert "short: s = abcdef" in two[DROP_REASONS][1]
    assert sorted(r.id for r in passing_rows(flagged).collect()) == [1, 3, 4]
    evaluated, counts = row_rule_counts(flagged, rules)
    assert evaluated == 4
    assert counts == {"small": 1, "short": 1, "pos": 1}


def test_empty_batches_and_rule_less_tables(spark):
    empty = spark.createDataFrame([], SCHEMA)
    r = rule(check="not_null", column="x")
    flagged = apply_row_rules(empty, [r])
    assert row_rule_counts(flagged, [r]) == (0, {"r": 0})
    bare = apply_row_rules(spark.createDataFrame(ROWS, SCHEMA), [])
    assert passing_rows(bare).count() == 4
    assert row_rule_counts(bare, []) == (4, {})


def test_a_dropping_unique_rule_keeps_the_first_row_of_each_value_in_the_given_order(spark):
    """The first row of a repeated value (by `order`) stays; the later ones are dropped, with
    the value in the reason; nulls are never repeats."""
    from pyspark.sql import functions as F

    rows = [(1, 7, "a"), (2, 7, "b"), (3, 8, "c"), (4, None, "d"), (5, None, "e"), (6, 7, "f")]
    df = spark.createDataFrame(rows, SCHEMA)
    r = rule(check="unique", column="x")
    assert failing_ids(spark, r, rows) in ([2, 6], [1, 6], [1, 2])  # no order: one 7 kept
    newest_first = apply_row_rules(df, [r], order=[F.col("id").desc()])
    assert sorted(row.id for row in dropped_rows(newest_first).collect()) == [1, 2]
    (reason,) = {row[DROP_REASONS][0] for row in dropped_rows(newest_first).collect()}
    assert reason == "r: x = 7 again: an earlier row of the batch has it"
    oldest_first = apply_row_rules(df, [r], order=[F.col("id")])
    assert sorted(row.id for row in passing_rows(oldest_first).collect()) == [1, 3, 4, 5]
    assert row_rule_counts(oldest_first, [r]) == (6, {"r": 2})


def test_batch_level_rules_are_not_row_rules(spark):
    r = rule(check="unique", column="x", action="fail")
    flagged = apply_row_rules(spark.createDataFrame(ROWS, SCHEMA), [r])
    assert row_rule_counts(flagged, [r]) == (4, {})


def _jobs(spark, flagged, rules, group):
    spark.sparkContext.setJobGroup(group, "counts")
    try:
        row_rule_counts(flagged, rules)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def test_counts_take_one_pass_whatever_the_number_of_rules(spark):
    """One pass: eight rules cost the Spark jobs of one (an aggregation), not one job each."""
    df = spark.createDataFrame(ROWS, SCHEMA)
    one_rule = [rule(check="between", column="x", min=0)]
    many = [rule(name=f"r{i}", check="between", column="x", min=i) for i in range(8)]
    single = _jobs(spark, apply_row_rules(df, one_rule), one_rule, "dq-one")
    assert single <= 2  # the aggregation (and its adaptive shuffle stage)
    assert _jobs(spark, apply_row_rules(df, many), many, "dq-many") == single

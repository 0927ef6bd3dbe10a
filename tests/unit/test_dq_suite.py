"""Batch-level rules through real Great Expectations suites, and referential rules, on tiny frames."""

from __future__ import annotations

import datetime as dt

import pytest

from gamelake.dq.gate import check_table, referential_results
from gamelake.dq.rules import parse_rules
from gamelake.dq.suite import SuiteRunner

SCHEMA = "id long, x double, team string, ts timestamp, seen timestamp"
T0 = dt.datetime(2026, 1, 1, 12, 0, 0)
ROWS = [
    (1, 1.0, "a", T0, T0 + dt.timedelta(minutes=1)),
    (2, 2.0, "a", T0 - dt.timedelta(hours=1), T0 + dt.timedelta(minutes=2)),
    (3, 3.0, "b", None, T0),
    (3, None, None, T0, T0),
]


def rule(**raw):
    base = {"name": "r", "description": "d", "action": "fail"}
    return parse_rules("silver.t", {"rules": [{**base, **raw}]})[0]


@pytest.fixture(scope="module")
def runner():
    return SuiteRunner()


def run(spark, runner, r, rows=ROWS, now=None):
    (result,) = runner.run(spark.createDataFrame(rows, SCHEMA), [r], now=now)
    return result


@pytest.mark.parametrize(
    ("raw", "passed", "observed"),
    [
        ({"check": "unique", "column": "id"}, False, "2 unexpected"),
        ({"check": "unique", "column": "team"}, False, "2 unexpected"),
        ({"check": "unique", "column": "x"}, True, "0 unexpected"),  # the null is not a value
        ({"check": "row_count", "min": 1, "max": 4}, True, "4"),
        ({"check": "row_count", "min": 5}, False, "4"),
        ({"check": "mean", "column": "x", "min": 1.5, "max": 2.5}, True, "2"),
        ({"check": "mean", "column": "x", "min": 2.5}, False, "2"),
        ({"check": "stddev", "column": "x", "max": 2}, True, "1"),
        ({"check": "stddev", "column": "x", "max": 0.5}, False, "1"),
        ({"check": "distinct_ratio", "column": "team", "min": 0.5}, True, "0.666667"),
        ({"check": "distinct_ratio", "column": "team", "min": 0.9}, False, "0.666667"),
        # Lag of max(ts) = T0 behind max(seen) = T0 + 2 min.
        ({"check": "freshness", "column": "ts", "relative_to": "seen", "max_lag_s": 180}, True,
         "lag 120 s"),
        ({"check": "freshness", "column": "ts", "relative_to": "seen", "max_lag_s": 60}, False,
         "lag 120 s"),
    ],
)  # fmt: skip
def test_each_batch_check_passes_and_fails_through_gx(spark, runner, raw, passed, observed):
    result = run(spark, runner, rule(**raw))
    assert (result.passed, result.observed_value) == (passed, observed)
    assert result.evaluated_count == 4


def test_freshness_against_now(spark, runner):
    r = rule(check="freshness", column="ts", max_lag_s=3600)
    now = T0.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=30)
    assert run(spark, runner, r, now=now).passed
    later = now + dt.timedelta(hours=2)
    result = run(spark, runner, r, now=later)
    assert not result.passed
    assert result.observed_value == "lag 9000 s"


@pytest.mark.parametrize(
    "raw",
    [
        {"check": "mean", "column": "x", "min": 1},
        {"check": "stddev", "column": "x", "min": 1},
        {"check": "distinct_ratio", "column": "team", "min": 0.5},
        {"check": "freshness", "column": "ts", "max_lag_s": 1},
        {"check": "unique", "column": "id"},
    ],
)
def test_empty_and_all_null_batches_have_nothing_to_judge(spark, runner, raw):
    empty = run(spark, runner, rule(**raw), rows=[])
    assert empty.passed and empty.evaluated_count == 0
    nulls = run(spark, runner, rule(**raw), rows=[(None, None, None, None, None)])
    assert nulls.passed


def test_row_count_judges_an_empty_batch(spark, runner):
    assert not run(spark, runner, rule(check="row_count", min=1), rows=[]).passed


def test_referential_counts_values_missing_from_the_reference_table(spark, tmp_path):
    lake = tmp_path / "lake"
    spark.createDataFrame([("a",), ("c",)], "team_id string").write.format("delta").save(
        str(lake / "silver" / "teams")
    )
    r = rule(check="referential", column="team", ref_table="silver.teams", ref_column="team_id",
             action="warn")  # fmt: skip
    df = spark.createDataFrame(ROWS, SCHEMA)
    (result,) = referential_results(spark, df, [r], lake)
    # "b" is unknown; the null is not a reference.
    assert (result.passed, result.unexpected_count, result.evaluated_count) == (False, 1, 3)
    late = rule(check="referential", column="team", ref_table="silver.none", ref_column="k")
    (missing,) = referential_results(spark, df, [late], lake)
    assert missing.unexpected_count == 3


def test_check_table_reports_every_rule_in_order(spark, runner, tmp_path):
    rules = parse_rules(
        "gold.t",
        {
            "rules": [
                {"name": "rows", "description": "d", "action": "fail", "check": "row_count",
                 "min": 1},
                {"name": "ids", "description": "d", "action": "fail", "check": "not_null",
                 "column": "ts"},
                {"name": "ratio", "description": "d", "action": "warn", "check": "row",
                 "expr": "x < 3"},
            ]
        },
    )  # fmt: skip
    results = check_table(spark, spark.createDataFrame(ROWS, SCHEMA), rules, tmp_path, runner)
    assert [(r.rule.name, r.passed, r.unexpected_count) for r in results] == [
        ("rows", True, None),
        ("ids", False, 1),
        ("ratio", False, 1),
    ]
    assert "gold.t rule 'ids' (fail): observed 1 unexpected" in results[1].describe()


def test_data_docs_are_written(spark, tmp_path):
    docs = tmp_path / "docs"
    runner = SuiteRunner(docs_dir=docs)
    runner.run(spark.createDataFrame(ROWS, SCHEMA), [rule(check="row_count", min=1)])
    assert (docs / "index.html").is_file()
    assert list(docs.rglob("validations/**/*.html"))


def test_the_spark_engine_gives_the_same_verdicts(spark):
    """Above max_pandas_rows the suite runs on GX's Spark engine: same rules, same results."""
    rules = [
        rule(name="u", check="unique", column="id"),
        rule(name="m", check="mean", column="x", min=1.5, max=2.5),
        rule(name="n", check="row_count", min=1, max=3),
    ]
    df = spark.createDataFrame(ROWS, SCHEMA)
    on_pandas = SuiteRunner().run(df, rules)
    on_spark = SuiteRunner(max_pandas_rows=0).run(df, rules)
    assert [(r.passed, r.observed_value) for r in on_spark] == [
        (r.passed, r.observed_value) for r in on_pandas
    ]


def test_a_stream_writes_data_docs_only_for_failing_validations(spark, tmp_path):
    docs = tmp_path / "docs"
    runner = SuiteRunner(docs_dir=docs, docs_always=False)
    df = spark.createDataFrame(ROWS, SCHEMA)
    runner.run(df, [rule(check="row_count", min=1)])
    assert not list(docs.rglob("validations/**/*.html"))
    (failed,) = runner.run(df, [rule(check="row_count", min=10)])
    assert not failed.passed
    assert len(list(docs.rglob("validations/**/*.html"))) == 1

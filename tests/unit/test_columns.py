"""The hot path's compiled column blocks: the same answers as Spark's higher-order functions,
and no higher-order function left in the columns every row evaluates."""

from __future__ import annotations

from pyspark.sql import functions as F

from gamelake.columns import values_where
from gamelake.contracts import load_contracts
from gamelake.dq.row import apply_row_rules
from gamelake.dq.rules import parse_rules
from gamelake.silver import parse_family
from tests.samples import EXAMPLES
from tests.unit.test_silver import bronze


def test_values_where_keeps_what_array_compact_keeps_in_order_with_repeats(spark):
    rows = [(1, None, "x"), (5, 3, None), (None, 1, "z"), (7, 2, "y")]
    df = spark.createDataFrame(rows, "a int, b int, c string")
    pairs = [
        (F.col("a") > 2, F.lit("big")),
        (F.col("b") > 0, F.col("c")),  # a null value is left out, as array_compact does
        (F.col("a") > 0, F.lit("big")),  # a repeat is kept
    ]
    compact = F.array_compact(F.array(*[F.when(cond, value) for cond, value in pairs]))
    got = df.select(values_where(pairs).alias("new"), compact.alias("old")).collect()
    assert [r.new for r in got] == [r.old for r in got]
    assert [r.new for r in got] == [["big"], ["big", "big"], ["z"], ["big", "y", "big"]]
    assert df.select(values_where([]).alias("none")).first().none == []


def _evaluates_a_lambda(df) -> bool:
    return "lambdafunction" in df._jdf.queryExecution().optimizedPlan().toString()


def test_no_rule_column_runs_a_higher_order_function_per_row(spark, root):
    contracts = load_contracts(root / "conf" / "contracts")
    rows = bronze(spark, "player_action", [EXAMPLES["player_action"]])
    parsed = parse_family(rows, contracts["player_action"])
    assert not _evaluates_a_lambda(parsed.select("_rules", "_reasons"))
    rules = parse_rules(
        "silver.t",
        {"rules": [
            {"name": "known", "description": "d", "action": "drop", "check": "not_null",
             "column": "family"},
            {"name": "noted", "description": "d", "action": "warn", "check": "regex",
             "column": "event_id", "pattern": "^x"},
        ]},
    )  # fmt: skip
    flagged = apply_row_rules(parsed.select("event_id", "family"), rules)
    assert not _evaluates_a_lambda(flagged)
    # Drift keeps its map functions, behind a compiled test of the keys (test_silver checks
    # what it finds).
    assert _evaluates_a_lambda(parsed.select("_rescued_data"))

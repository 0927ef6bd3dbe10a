"""What operators read: pass rates of each rule over a table's last N evaluations."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def pass_rates(results: DataFrame, last: int) -> DataFrame:
    """Per table and rule, over the table's `last` evaluations (runs) in ops.dq_results:
    evaluations, pass rate, unexpected rows, the latest observed value and verdict."""
    runs = results.groupBy("layer", "table_name", "run_id").agg(
        F.max("evaluated_at").alias("run_at")
    )
    newest = Window.partitionBy("layer", "table_name").orderBy(F.col("run_at").desc(), "run_id")
    recent = runs.withColumn("_n", F.row_number().over(newest)).where(F.col("_n") <= last)
    picked = results.join(
        recent.select("layer", "table_name", "run_id"), ["layer", "table_name", "run_id"]
    )
    latest = F.struct("evaluated_at", "run_id")
    return (
        picked.groupBy("layer", "table_name", "rule", "action")
        .agg(
            F.count(F.lit(1)).alias("evaluations"),
            F.avg(F.col("passed").cast("double")).alias("pass_rate"),
            F.sum("unexpected_count").alias("unexpected_rows"),
            F.sum("evaluated_count").alias("evaluated_rows"),
            F.max_by("observed_value", latest).alias("last_observed"),
            F.max_by("passed", latest).alias("last_passed"),
            F.max("evaluated_at").alias("last_at"),
        )
        .orderBy("layer", "table_name", "rule")
    )

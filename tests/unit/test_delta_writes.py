"""Delta appends as the project's session makes them: compaction once small files pile up,
not after every append."""

from pyspark.sql import functions as F

RECORD_STATS = "spark.databricks.delta.autoCompact.recordPartitionStats.enabled"


def test_appends_to_a_table_from_an_earlier_run_are_not_each_followed_by_a_compaction(
    spark, tmp_path
):
    path = str(tmp_path / "t")

    def rows(i):
        return spark.range(i * 10, i * 10 + 10).withColumn("p", (F.col("id") % 2).cast("string"))

    # A table whose files this process did not count, as if an earlier run had written them.
    spark.conf.set(RECORD_STATS, "false")
    try:
        rows(0).repartition(1).write.format("delta").partitionBy("p").save(path)
    finally:
        spark.conf.unset(RECORD_STATS)
    for i in range(1, 5):
        rows(i).repartition(1).write.format("delta").mode("append").save(path)

    operations = [r.operation for r in spark.sql(f"describe history delta.`{path}`").collect()]
    assert operations.count("WRITE") == 5
    assert "OPTIMIZE" not in operations
    assert spark.read.format("delta").load(path).count() == 50

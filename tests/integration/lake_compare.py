"""Comparing two lakes the pipeline made of the same input: local folders or s3a:// prefixes,
listed through gamelake's own lake filesystem and read with the caller's Spark session."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import functions as F

from gamelake.conventions import find_delta_tables, table_path

# Processing time columns: the only ones allowed to differ between two runs of one input.
VOLATILE = {"ingested_at", "ingest_date", "quarantined_at", "recorded_at"}


def delta_tables(lake: Path, layer: str) -> list[str]:
    """Names of the Delta tables in one layer of `lake` (a folder or an s3a:// URI), sorted."""
    return [name for _, name in find_delta_tables(lake, (layer,))]


def rows_as_json(spark, path: Path, leave_out: frozenset[str] = frozenset()):
    """A table's rows as JSON text without the processing-time columns (a multiset)."""
    df = spark.read.format("delta").load(str(path))
    cols = sorted(c for c in df.columns if c not in VOLATILE | leave_out)
    return df.select(F.to_json(F.struct(*cols)).alias("row"))


def assert_same_lake(spark, clean: Path, other: Path) -> None:
    """Silver, quarantine and bronze of `other` hold exactly the rows of `clean`."""
    assert delta_tables(other, "silver") == delta_tables(clean, "silver")
    tables = [("silver", t) for t in delta_tables(clean, "silver")]
    tables += [("ops", "quarantine"), ("bronze", "events")]
    for layer, name in tables:
        # Which Kafka copy of a re-sent event silver keeps depends on batch boundaries; the
        # copies are byte-equal, so silver compares on everything but that lineage.
        lineage = frozenset({"kafka_partition", "kafka_offset"} if layer == "silver" else ())
        a = rows_as_json(spark, table_path(clean, layer, name), lineage)
        b = rows_as_json(spark, table_path(other, layer, name), lineage)
        # Equal as multisets: nothing missing, nothing extra (a row twice is one extra).
        missing, extra = a.exceptAll(b).count(), b.exceptAll(a).count()
        assert (missing, extra) == (0, 0), (
            f"{layer}.{name}: {missing} rows of the clean run missing, {extra} rows it has not"
        )

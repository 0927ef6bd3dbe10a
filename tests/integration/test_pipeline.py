"""Kafka -> bronze -> silver with the real broker, Spark and Delta, run the way users run it.

The shared `lake_run` fixture is the run under test (private topics, a private lake under the
profile's lake, a private Trino catalog). What survives a crash is tested in test_faults.py:
ten SIGKILLs of the driver in a 200k-event run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from gamelake import trino_client
from gamelake.conventions import table_path

pytestmark = pytest.mark.integration


def silver_tables(lake: Path) -> list[str]:
    return sorted(p.name for p in (lake / "silver").iterdir() if (p / "_delta_log").is_dir())


def test_every_record_is_accounted_for(spark, lake_run):
    records, clean_lake = lake_run.records, lake_run.lake
    bronze = spark.read.format("delta").load(str(table_path(clean_lake, "bronze", "events")))
    assert bronze.count() == len(records)

    duplicates = sum(r.duplicate for r in records)
    assert duplicates > 0
    silver_ids = 0
    for family in lake_run.contracts:
        path = table_path(clean_lake, "silver", family)
        df = spark.read.format("delta").load(str(path))
        total, distinct = df.count(), df.select("event_id").distinct().count()
        assert total == distinct, f"duplicates in silver.{family}"
        silver_ids += distinct
    quarantine = spark.read.format("delta").load(str(table_path(clean_lake, "ops", "quarantine")))
    assert silver_ids + quarantine.count() == len(records) - duplicates
    assert quarantine.where(F.col("reason").isNull() | (F.length("reason") == 0)).count() == 0
    # Roughly the malformed fraction asked of the generator ended up there.
    assert 0.02 * len(records) < quarantine.count() < 0.10 * len(records)


def test_no_secret_lands_in_the_lake(spark, lake_run):
    clean_lake = lake_run.lake
    passwords = set()
    for r in lake_run.records:
        event = _try_json(r.value)
        if isinstance(event, dict) and isinstance(event.get("password"), str):
            passwords.add(event["password"])
    assert passwords, "the generator should emit passwords on register/login"
    bronze = spark.read.format("delta").load(str(table_path(clean_lake, "bronze", "events")))
    texts = bronze.select(F.col("value").cast("string").alias("v"))
    leaked = texts.where(F.col("v").rlike("|".join(map(re.escape, sorted(passwords))))).count()
    assert leaked == 0
    for table in silver_tables(clean_lake):
        assert (
            "password"
            not in spark.read.format("delta")
            .load(str(table_path(clean_lake, "silver", table)))
            .columns
        )
    # And no file of the lake holds one in plain bytes.
    for f in clean_lake.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not any(p.encode() in data for p in passwords if len(p) >= 6), f


def _try_json(value: bytes):
    try:
        return json.loads(value)
    except ValueError:
        return None


def test_silver_is_partitioned_by_event_type(lake_run):
    clean_lake = lake_run.lake
    for family in lake_run.contracts:
        log_dir = table_path(clean_lake, "silver", family) / "_delta_log"
        first = sorted(log_dir.glob("*.json"))[0]
        meta = next(
            json.loads(line)["metaData"]
            for line in first.read_text().splitlines()
            if '"metaData"' in line
        )
        assert meta["partitionColumns"] == ["event_type"], family


def test_trino_reads_the_silver_tables(spark, lake_run):
    for family in lake_run.contracts:
        silver = spark.read.format("delta").load(str(table_path(lake_run.lake, "silver", family)))
        expected = Counter(
            {r.event_type: r["count"] for r in silver.groupBy("event_type").count().collect()}
        )
        got = trino_client.run(
            lake_run.conn, f"select event_type, count(*) from silver.{family} group by 1"
        )
        assert Counter(dict(got.rows)) == expected, family

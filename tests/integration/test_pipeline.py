"""Kafka -> bronze -> silver with the real broker, Spark and Delta, run the way users run it.

The generator's records go to topics of a private prefix; the pipeline job runs through
spark-submit into a private lake under the profile's lake (so Trino can read it too).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from gamelake import kafka_io, trino_client
from gamelake.contracts import load_contracts
from gamelake.generator import GeneratorOptions, generate
from gamelake.pipeline import table_path
from gamelake.spark import submit_command, submit_env

pytestmark = pytest.mark.integration

EVENTS = 6_000
# Several bronze batches and a long first silver batch: kills land in the middle of work.
BATCH_ARGS = ["--max-offsets-per-trigger", "2000"]


@pytest.fixture(scope="module")
def run(services, settings):
    """Generated records in private topics, and a private lake area; cleaned up afterwards."""
    run_id = uuid.uuid4().hex[:8]
    contracts = load_contracts(settings.paths.conf / "contracts")
    records = list(
        generate(
            contracts,
            GeneratorOptions(seed=2026, events=EVENTS, late_fraction=0.02,
                             duplicate_fraction=0.03, malformed_fraction=0.05),
        )
    )  # fmt: skip
    prefix = f"gltest{run_id}."
    kafka_io.create_topics(
        settings.kafka.bootstrap_servers,
        [prefix + f for f in contracts],
        partitions=2,
        retention_hours=2,
    )
    sent = kafka_io.produce(
        settings.kafka.bootstrap_servers, [(prefix + r.family, r.key, r.value) for r in records]
    )
    assert sent == len(records)
    area = settings.paths.lake / "_tests" / run_id
    yield {
        "prefix": prefix,
        "records": records,
        "area": area,
        "contracts": contracts,
        "run_id": run_id,
    }
    shutil.rmtree(area, ignore_errors=True)
    kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)


def pipeline_cmd(settings, run, name: str) -> list[str]:
    area = run["area"] / name
    return submit_command(
        settings, "pipeline",
        ["--once", "--topic-prefix", run["prefix"], "--lake", str(area / "lake"),
         "--checkpoint-root", str(area / "checkpoints"), *BATCH_ARGS],
    )  # fmt: skip


def run_to_end(cmd: list[str], log: Path) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(
            cmd, env=submit_env(dict(os.environ)), stdout=out, stderr=out, timeout=900
        )
    assert done.returncode == 0, log.read_text()[-4000:]


def silver_tables(lake: Path) -> list[str]:
    return sorted(p.name for p in (lake / "silver").iterdir() if (p / "_delta_log").is_dir())


@pytest.fixture(scope="module")
def clean_lake(run, settings):
    (run["area"] / "clean").mkdir(parents=True, exist_ok=True)
    run_to_end(pipeline_cmd(settings, run, "clean"), run["area"] / "clean" / "job.log")
    return run["area"] / "clean" / "lake"


def test_every_record_is_accounted_for(spark, run, clean_lake):
    records = run["records"]
    bronze = spark.read.format("delta").load(str(table_path(clean_lake, "bronze", "events")))
    assert bronze.count() == len(records)

    duplicates = sum(r.duplicate for r in records)
    assert duplicates > 0
    silver_ids = 0
    for family in run["contracts"]:
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


def test_no_secret_lands_in_the_lake(spark, run, clean_lake):
    passwords = set()
    for r in run["records"]:
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


def test_silver_is_partitioned_by_event_type(run, clean_lake):
    for family in run["contracts"]:
        log_dir = table_path(clean_lake, "silver", family) / "_delta_log"
        first = sorted(log_dir.glob("*.json"))[0]
        meta = next(
            json.loads(line)["metaData"]
            for line in first.read_text().splitlines()
            if '"metaData"' in line
        )
        assert meta["partitionColumns"] == ["event_type"], family


def test_trino_reads_the_silver_tables(spark, run, clean_lake, services, trino_conn):
    catalog, schema = services.trino.catalog, f"test_{run['run_id']}"
    tables = silver_tables(clean_lake)
    try:
        for table in tables:
            location = trino_client.trino_location(
                services.paths.lake, table_path(clean_lake, "silver", table)
            )
            trino_client.register_table(trino_conn, catalog, schema, table, location)
        for family in run["contracts"]:
            expected = Counter(
                {
                    r.event_type: r["count"]
                    for r in spark.read.format("delta")
                    .load(str(table_path(clean_lake, "silver", family)))
                    .groupBy("event_type")
                    .count()
                    .collect()
                }
            )
            got = trino_client.run(
                trino_conn,
                f"select event_type, count(*) from {catalog}.{schema}.{family} group by 1",
            )
            assert Counter(dict(got.rows)) == expected, family
    finally:
        for table in tables:
            trino_client.run(
                trino_conn,
                f"call {catalog}.system.unregister_table(schema_name => '{schema}', table_name => '{table}')",
            )
        trino_client.run(trino_conn, f"drop schema if exists {catalog}.{schema}")


def test_sigkill_and_restart_neither_loses_nor_duplicates(spark, run, clean_lake, settings):
    """Kill the driver three times mid-run; the final silver equals the clean run's."""
    cmd = pipeline_cmd(settings, run, "killed")
    log = run["area"] / "killed" / "job.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    kills = 0
    while kills < 3:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd,
                env=submit_env(dict(os.environ)),
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        try:
            proc.wait(timeout=rng.uniform(25, 55))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, log.read_text()[-4000:]
        break  # finished before it could be killed; the remaining runs have less to do
    run_to_end(cmd, log)
    assert kills >= 1, "every run finished before a kill: make the run longer"

    killed_lake = run["area"] / "killed" / "lake"
    assert silver_tables(killed_lake) == silver_tables(clean_lake)
    for table in [
        *(f"silver/{t}" for t in silver_tables(clean_lake)),
        "ops/quarantine",
        "bronze/events",
    ]:
        layer, name = table.split("/")
        a = spark.read.format("delta").load(str(table_path(clean_lake, layer, name)))
        b = spark.read.format("delta").load(str(table_path(killed_lake, layer, name)))
        # What identifies a row: its event in silver, an item of it in the child tables, and
        # its Kafka record where a payload may carry no identity (bronze, quarantine).
        key = ["event_id"]
        if layer == "silver" and name not in run["contracts"]:
            key = ["event_id", "position"]
        elif layer != "silver":
            key = ["topic", "kafka_partition", "kafka_offset"]
        assert b.count() == a.count(), table
        assert b.select(*key).distinct().count() == b.count(), f"duplicates in {table}"
        assert b.select(*key).exceptAll(a.select(*key)).count() == 0, table

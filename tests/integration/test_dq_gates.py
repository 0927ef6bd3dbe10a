"""Quality gates with the real stack: Kafka -> bronze, then the silver stream
(gamelake.streams.start_silver with a gate), both in this process (so the test owns its
rules, and pays for no second JVM), Delta, Great Expectations and Trino.

A batch breaking a fail-rule never reaches silver and its failure is visible in
ops.dq_results through Trino; after the rule is relaxed the restarted stream promotes the
batch exactly once; rows dropped by a drop-rule are replayed from quarantine exactly once
after that rule is relaxed.
"""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from pyspark.errors import StreamingQueryException
from pyspark.sql import functions as F

from gamelake import kafka_io, trino_client
from gamelake.contracts import load_contracts
from gamelake.conventions import load_pipeline_conf, table_path
from gamelake.dq.gate import SilverGate, TableGate
from gamelake.dq.replay import replay
from gamelake.dq.results import RESULTS_TABLE, GateFailed
from gamelake.dq.rules import parse_rules
from gamelake.dq.suite import SuiteRunner
from gamelake.generator import GeneratorOptions, generate
from gamelake.secrets import declared_secrets, load_policy
from gamelake.streams import StreamOptions, start_bronze, start_silver
from tests.kafka_records import produce

pytestmark = pytest.mark.integration

EVENTS = 400
FAMILY = "player_activity"
ROUND_CAP = 500  # a drop rule some generated points break (Expert rooms score up to 1000)


def rules_doc(mean_max: float, cap: float) -> dict:
    return {
        "rules": [
            {"name": "ids", "description": "d", "action": "fail", "check": "unique",
             "column": "event_id"},
            {"name": "per_round", "description": "d", "action": "drop", "check": "between",
             "column": "points", "min": 0, "max": cap},
            {"name": "mean_points", "description": "d", "action": "fail", "check": "mean",
             "column": "points", "max": mean_max},
            {"name": "room_known", "description": "d", "action": "warn", "check": "referential",
             "column": "room_id", "ref_table": "silver.game_room", "ref_column": "room_id"},
        ]
    }  # fmt: skip


def gate(area, mean_max: float, cap: float = ROUND_CAP) -> SilverGate:
    table = f"silver.{FAMILY}"
    rules = {table: parse_rules(table, rules_doc(mean_max, cap))}
    return SilverGate(rules, area / "lake", "", SuiteRunner(area / "reports"))


@pytest.fixture(scope="module")
def dq_run(services, settings, spark):
    """A few hundred generated events in private topics, landed in a private bronze by the
    pipeline's bronze stream."""
    run_id = uuid.uuid4().hex[:8]
    contracts = load_contracts(settings.paths.conf / "contracts")
    records = list(generate(contracts, GeneratorOptions(seed=7, events=EVENTS)))
    prefix = f"gldq{run_id}."
    bootstrap = settings.kafka.bootstrap_servers
    kafka_io.create_topics(bootstrap, [prefix + f for f in contracts], partitions=2,
                           retention_hours=2)  # fmt: skip
    produce(bootstrap, [(prefix + r.family, r.key, r.value) for r in records])
    area = settings.paths.lake / "_tests" / f"dq-{run_id}"
    pipeline = load_pipeline_conf(settings.paths.conf)
    admin = trino_client.connect(settings.trino)
    catalog = f"gldq{run_id}"
    try:
        start_bronze(
            spark, bootstrap, re.escape(prefix) + ".*", prefix,
            load_policy(settings.paths.conf, declared_secrets(contracts)),
            table_path(area / "lake", "bronze", pipeline.bronze_table),
            pipeline.bronze_partition_by,
            area / "checkpoints" / "bronze" / pipeline.bronze_table, StreamOptions(once=True),
        ).awaitTermination()  # fmt: skip
        trino_client.create_lake_catalog(admin, catalog, area / "lake")
        yield {"area": area, "contracts": contracts, "records": records, "catalog": catalog,
               "pipeline": pipeline}  # fmt: skip
    finally:
        trino_client.drop_catalog(admin, catalog)
        kafka_io.delete_topics_with_prefix(bootstrap, prefix)
        shutil.rmtree(area, ignore_errors=True)


def run_silver(spark, dq_run, silver_gate: SilverGate):
    area, pipeline = dq_run["area"], dq_run["pipeline"]
    query = start_silver(
        spark, dq_run["contracts"], area / "lake",
        table_path(area / "lake", "bronze", pipeline.bronze_table), area / "checkpoints" / "silver",
        StreamOptions(once=True), pipeline.rejects_topic.removeprefix(pipeline.topic_prefix),
        gate=silver_gate,
    )  # fmt: skip
    query.awaitTermination()


def read(spark, lake, layer, table):
    return spark.read.format("delta").load(str(table_path(lake, layer, table)))


def test_fail_rule_stops_the_batch_then_relaxing_promotes_it_exactly_once(spark, dq_run, settings):
    area = dq_run["area"]
    lake = area / "lake"
    # 1. Mean points of the batch are far above 1: the gate fails, nothing reaches silver.
    with pytest.raises(StreamingQueryException, match="quality gate failed") as failed:
        run_silver(spark, dq_run, gate(area, mean_max=1))
    message = str(failed.value)
    assert f"silver.{FAMILY} rule 'mean_points' (fail): observed" in message
    assert "threshold mean(points) in [-inf, 1]" in message
    assert not (lake / "silver").exists() or not any((lake / "silver").iterdir())
    assert not (lake / "ops" / "quarantine").exists()

    # 2. The failure is queryable through Trino.
    admin = trino_client.connect(settings.trino)
    trino_client.register_lake_at(admin, dq_run["catalog"], lake, ("ops",))
    rows = trino_client.run(
        admin,
        f"select rule, passed, observed_value, action from {dq_run['catalog']}.ops.{RESULTS_TABLE}"
        f" where table_name = '{FAMILY}' and rule = 'mean_points'",
    ).rows
    assert len(rows) == 1 and rows[0][1] is False and rows[0][3] == "fail"
    assert float(rows[0][2]) > 1

    # 3. Relaxed, the restarted stream reprocesses the batch from the checkpoint, once.
    run_silver(spark, dq_run, gate(area, mean_max=100_000))
    silver = read(spark, lake, "silver", FAMILY)
    total, distinct = silver.count(), silver.select("event_id").distinct().count()
    assert total == distinct > 0
    assert silver.where(F.col("points") > ROUND_CAP).count() == 0
    quarantine = read(spark, lake, "ops", "quarantine")
    dropped = quarantine.where(F.array_contains("rules", "dq.per_round"))
    assert dropped.count() > 0
    results = read(spark, lake, "ops", RESULTS_TABLE)
    passing_runs = results.where("rule = 'mean_points' and passed").select("run_id").distinct()
    assert passing_runs.count() == 1
    # A restart with nothing new adds nothing.
    run_silver(spark, dq_run, gate(area, mean_max=100_000))
    assert read(spark, lake, "silver", FAMILY).count() == total

    # 4. Relax the drop rule; replay moves the dropped rows to silver exactly once.
    relaxed = gate(area, mean_max=100_000, cap=100_000).bound("test-replay")
    contracts, bronze = dq_run["contracts"], table_path(lake, "bronze", "events")
    n_dropped = dropped.count()
    (outcome,) = replay(spark, lake, bronze, contracts, relaxed, rule="dq.per_round")
    assert (outcome.family, outcome.promoted, outcome.still_failing) == (FAMILY, n_dropped, 0)
    after = read(spark, lake, "silver", FAMILY)
    assert after.count() == after.select("event_id").distinct().count() == total + n_dropped
    assert (
        read(spark, lake, "ops", "quarantine")
        .where(F.array_contains("rules", "dq.per_round"))
        .count()
        == 0
    )
    assert replay(spark, lake, bronze, contracts, relaxed, rule="dq.per_round") == []
    assert read(spark, lake, "silver", FAMILY).count() == total + n_dropped


def test_a_gold_table_failing_its_gate_is_not_published(spark, dq_run):
    """TableGate before publication: a failing fail-rule raises before the write; its
    results are recorded all the same."""
    area = dq_run["area"]
    lake = area / "lake"
    if not (table_path(lake, "silver", FAMILY) / "_delta_log").is_dir():
        pytest.skip("needs the silver tables of the previous test")
    from gamelake.gold.batch import BUILDERS, write_atomic

    builder = BUILDERS["room_stats"]
    frames = {t: read(spark, lake, "silver", t) for t in builder.inputs}
    df = builder.build(frames)
    rules = parse_rules("gold.room_stats", {"rules": [
        {"name": "few_rooms", "description": "d", "action": "fail", "check": "row_count",
         "max": 1},
    ]})  # fmt: skip
    target = table_path(lake, "gold", "room_stats")
    gate = TableGate({"gold.room_stats": rules}, lake, SuiteRunner())
    try:
        with pytest.raises(GateFailed, match=r"gold\.room_stats rule 'few_rooms'"):
            gate.check(spark, "gold.room_stats", df, 0)
            write_atomic(df, target)
    finally:
        gate.record(spark)
    assert not target.exists()
    stored = read(spark, lake, "ops", RESULTS_TABLE).where("table_name = 'room_stats'")
    assert stored.where("not passed").count() == 1


def test_dq_check_command(dq_run, settings, spark):
    """`gamelake dq check` runs the repository's rules on a table's current Delta version and
    records them in ops.dq_results (the report's pass rates are unit-tested)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    lake = dq_run["area"] / "lake"
    if not (table_path(lake, "silver", FAMILY) / "_delta_log").is_dir():
        pytest.skip("needs the silver tables of the first test")
    cli = [str(Path(sys.executable).parent / "gamelake"), "--env", settings.env]
    check = subprocess.run([*cli, "dq", "check", f"silver.{FAMILY}", "--lake", str(lake)],
                           capture_output=True, text=True, env=dict(os.environ), timeout=600)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "event_id_unique" in check.stdout and "room_known" in check.stdout
    recorded = read(spark, lake, "ops", RESULTS_TABLE).where("app_id = 'dq-check'")
    assert {r.rule for r in recorded.collect()} >= {"event_id_unique", "room_known", "ingest_lag"}

"""`rebuild` replaces a gold table atomically: a reader running beside it sees the old rows or
the new rows, never an empty or half-written table, and the rebuild is one Delta commit."""

from __future__ import annotations

import shutil
import threading
import uuid

import pytest

from gamelake import kafka_io
from gamelake.contracts import load_contracts
from gamelake.conventions import load_pipeline_conf, table_path
from gamelake.generator import GeneratorOptions, generate
from gamelake.ops.backfill import backfill_bronze, plan_backfill
from gamelake.ops.offsets import Bound
from gamelake.streams import StreamOptions, start_silver
from tests.kafka_records import produce

pytestmark = pytest.mark.integration

TABLE = "user_sessions"  # gold built from silver.user_score alone


@pytest.fixture()
def lake_area(services, settings):
    run_id = uuid.uuid4().hex[:8]
    area = settings.paths.lake / "_tests" / f"ops-{run_id}"
    prefix = f"glreb{run_id}."
    yield area, prefix
    shutil.rmtree(area, ignore_errors=True)
    kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)


def _land_scores(spark, settings, area, prefix, seed: int, start_ms: int) -> None:
    """Generated user scores through Kafka, bronze and silver (the pipeline's own code)."""
    contracts = load_contracts(settings.paths.conf / "contracts")
    pipeline = load_pipeline_conf(settings.paths.conf)
    bootstrap = settings.kafka.bootstrap_servers
    opts = GeneratorOptions(seed=seed, events=300, families=("user_score",), start_ms=start_ms)
    topic = prefix + "user_score"
    kafka_io.create_topics(bootstrap, [topic], 1, retention_hours=2)
    produce(bootstrap, [(topic, r.key, r.value) for r in generate(contracts, opts)])
    plan = plan_backfill(bootstrap, topic.replace(".", r"\."), Bound("earliest"), Bound("latest"))
    lake = area / "lake"
    bronze = table_path(lake, "bronze", pipeline.bronze_table)
    backfill_bronze(spark, bootstrap, plan.start, plan.end, prefix, None, bronze,
                    pipeline.bronze_partition_by)  # fmt: skip
    rejects = pipeline.rejects_topic.removeprefix(pipeline.topic_prefix)
    start_silver(spark, contracts, lake, bronze, area / "checkpoints" / "silver",
                 StreamOptions(once=True), rejects).awaitTermination()  # fmt: skip


def test_a_concurrent_reader_sees_the_old_or_the_new_table_never_a_half(spark, settings, lake_area):
    from delta.tables import DeltaTable

    from gamelake.gold.batch import rebuild

    area, prefix = lake_area
    lake = area / "lake"
    day_ms = 86_400_000
    _land_scores(spark, settings, area, prefix, seed=3, start_ms=1_790_000_000_000)
    rebuild(spark, lake, [TABLE])
    gold = table_path(lake, "gold", TABLE)
    old_rows = sorted(tuple(r) for r in spark.read.format("delta").load(str(gold)).collect())
    version_before = DeltaTable.forPath(spark, str(gold)).history(1).first()["version"]
    # A day later: new sessions, so the rebuilt table differs from the old one.
    _land_scores(spark, settings, area, prefix, seed=4, start_ms=1_790_000_000_000 + day_ms)

    seen: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not done.is_set():
                seen.append(spark.read.format("delta").load(str(gold)).count())
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        written = rebuild(spark, lake, [TABLE])
        # Keep reading a moment after the commit, so the new version is seen too.
        while seen.count(written[TABLE]) < 2 and thread.is_alive():
            thread.join(0.2)
    finally:
        done.set()
        thread.join(60)
    assert not errors, errors

    new_count = written[TABLE]
    assert new_count != len(old_rows)
    assert len(seen) >= 3
    assert set(seen) <= {len(old_rows), new_count}, f"a reader saw a partial table: {set(seen)}"
    # One commit replaced the table: an overwrite, the only version after the old one.
    history = DeltaTable.forPath(spark, str(gold)).history().collect()
    newer = [h for h in history if h["version"] > version_before]
    assert [(h["operation"], h["operationParameters"]["mode"]) for h in newer] == [
        ("WRITE", "Overwrite")
    ]
    # The old version is intact for readers still on it (time travel).
    old = spark.read.format("delta").option("versionAsOf", version_before).load(str(gold))
    assert sorted(tuple(r) for r in old.collect()) == old_rows

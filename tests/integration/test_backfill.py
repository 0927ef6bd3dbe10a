"""Backfill and reset against the real broker, Spark and Delta, in a private lake and topics.

Overlapping ranges must never double a bronze row; silver must pick the backfilled rows up
through its stream; starts Kafka's retention already deleted must be refused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest
from pyspark.sql import functions as F

from gamelake import kafka_io
from gamelake.contracts import load_contracts
from gamelake.conventions import load_pipeline_conf, table_path
from gamelake.errors import GamelakeError
from gamelake.generator import GeneratorOptions, generate
from gamelake.ops.backfill import backfill_bronze, plan_backfill
from gamelake.ops.offsets import Bound, checkpoint_offsets, parse_bound
from gamelake.secrets import SecretPolicy
from gamelake.spark import submit_command, submit_env
from tests.kafka_records import produce

pytestmark = pytest.mark.integration

FAMILIES = ("player", "telemetry", "user_score")
EVENTS = 400
COORDS = ["topic", "kafka_partition", "kafka_offset"]


@pytest.fixture(scope="module")
def ops(services, settings):
    """Clean generated records of three families in private topics, and a private lake."""
    run_id = uuid.uuid4().hex[:8]
    prefix = f"glops{run_id}."
    contracts = load_contracts(settings.paths.conf / "contracts")
    records = list(generate(contracts, GeneratorOptions(seed=11, events=EVENTS, families=FAMILIES)))
    bootstrap = settings.kafka.bootstrap_servers
    kafka_io.create_topics(bootstrap, [prefix + f for f in FAMILIES], 2, retention_hours=2)
    assert produce(bootstrap, [(prefix + r.family, r.key, r.value) for r in records])
    area = settings.paths.lake / "_tests" / f"ops-{run_id}"
    pipeline = load_pipeline_conf(settings.paths.conf)
    yield {
        "prefix": prefix,
        "pattern": prefix.replace(".", r"\.") + ".*",
        "records": records,
        "area": area,
        "lake": area / "lake",
        "bronze": table_path(area / "lake", "bronze", pipeline.bronze_table),
        "pipeline": pipeline,
        "contracts": contracts,
    }
    shutil.rmtree(area, ignore_errors=True)
    kafka_io.delete_topics_with_prefix(bootstrap, prefix)


def _bronze(spark, ops):
    return spark.read.format("delta").load(str(ops["bronze"]))


def _backfill(spark, settings, ops, start: Bound, end: Bound):
    plan = plan_backfill(settings.kafka.bootstrap_servers, ops["pattern"], start, end)
    return backfill_bronze(
        spark, settings.kafka.bootstrap_servers, plan.start, plan.end, ops["prefix"],
        SecretPolicy(words=(), exact=("password",)), ops["bronze"],
        ops["pipeline"].bronze_partition_by,
    )  # fmt: skip


def _job(settings, ops, *args: str) -> str:
    cmd = submit_command(
        settings, "backfill",
        ["--topic-prefix", ops["prefix"], "--lake", str(ops["lake"]),
         "--checkpoint-root", str(ops["area"] / "checkpoints"), *args],
    )  # fmt: skip
    proc = subprocess.run(
        cmd, env=submit_env(dict(os.environ)), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout


def test_overlapping_backfills_add_no_duplicates_and_silver_picks_them_up(spark, settings, ops):
    bootstrap = settings.kafka.bootstrap_servers
    end = plan_backfill(bootstrap, ops["pattern"], Bound("earliest"), Bound("latest")).end
    half = {t: {p: o // 2 for p, o in parts.items()} for t, parts in end.items()}
    two_thirds = {t: {p: o * 2 // 3 for p, o in parts.items()} for t, parts in end.items()}
    third = {t: {p: o // 3 for p, o in parts.items()} for t, parts in end.items()}

    # 1. The first half, in this process; silver follows through its stream.
    result = _backfill(spark, settings, ops, Bound("earliest"), Bound("offsets", offsets=half))
    first = sum(o for parts in half.values() for o in parts.values())
    assert result.rows_added == first
    assert _bronze(spark, ops).count() == first
    _silver_once(spark, ops)
    silver_after_first = _silver_rows(spark, ops)
    assert 0 < silver_after_first <= first

    # 2. A range overlapping the first (a third .. two thirds): only the new part lands.
    result = _backfill(spark, settings, ops, Bound("offsets", offsets=third),
                       Bound("offsets", offsets=two_thirds))  # fmt: skip
    second = sum(o for parts in two_thirds.values() for o in parts.values())
    assert result.rows_added == second - first
    assert result.rows_already_there == result.rows_read - (second - first) > 0

    # 3. Everything again through the job as users run it, silver onward: bronze holds
    # each record exactly once.
    out = _job(settings, ops, "--earliest")
    bronze = _bronze(spark, ops)
    assert bronze.count() == len(ops["records"])
    assert bronze.select(*COORDS).distinct().count() == len(ops["records"])
    assert f"{len(ops['records']) - second} added to bronze" in out
    # Generated events are clean and unique: each reaches silver exactly once.
    assert _silver_rows(spark, ops) == len(ops["records"]) > silver_after_first

    # 4. Once more: nothing at all to add.
    assert _backfill(spark, settings, ops, Bound("earliest"), Bound("latest")).rows_added == 0


def _silver_once(spark, ops) -> None:
    from gamelake.streams import StreamOptions, start_silver

    rejects = ops["pipeline"].rejects_topic.removeprefix(ops["pipeline"].topic_prefix)
    query = start_silver(
        spark, ops["contracts"], ops["lake"], ops["bronze"], ops["area"] / "checkpoints" / "silver",
        StreamOptions(once=True), rejects,
    )  # fmt: skip
    query.awaitTermination()


def _silver_rows(spark, ops) -> int:
    total = 0
    for family in FAMILIES:
        path = table_path(ops["lake"], "silver", family)
        if path.exists():
            df = spark.read.format("delta").load(str(path))
            assert df.select("event_id").distinct().count() == df.count(), family
            total += df.count()
    return total


def test_starts_that_retention_deleted_are_refused_unless_forced(settings, services, request):
    from kafka import KafkaAdminClient, TopicPartition

    bootstrap = settings.kafka.bootstrap_servers
    # Outside the module's prefix, so the other tests' ranges do not include it.
    topic = f"glgone{uuid.uuid4().hex[:8]}.t"
    kafka_io.create_topics(bootstrap, [topic], 1, retention_hours=2)
    produce(bootstrap, [(topic, None, b'{"n": %d}' % i) for i in range(10)])
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        # What retention does to old segments, done now: records 0..5 are gone.
        admin.delete_records({TopicPartition(topic, 0): 6})
    finally:
        admin.close()
    request.addfinalizer(lambda: kafka_io.delete_topics_with_prefix(bootstrap, topic))
    pattern = topic.replace(".", r"\.")
    wanted = parse_bound(json.dumps({topic: {"0": 2}}))
    with pytest.raises(GamelakeError) as err:
        plan_backfill(bootstrap, pattern, wanted, Bound("latest"))
    assert "[0] wants 2, has 6" in err.value.cause and "4 records gone" in err.value.cause
    forced = plan_backfill(bootstrap, pattern, wanted, Bound("latest"), force=True)
    assert forced.size == 8 and forced.retention_gaps
    # --earliest reads what is left without complaint.
    assert plan_backfill(bootstrap, pattern, Bound("earliest"), Bound("latest")).size == 4


def test_reset_starts_a_new_checkpoint_where_the_backfill_ended(spark, settings, ops):
    """Reset with --earliest over a lake that already holds everything: no row doubles, the
    old checkpoint is kept aside, and the new one sits at the topics' end offsets."""
    if not ops["bronze"].exists():
        pytest.skip("needs the bronze of the backfill test")
    before = _bronze(spark, ops).count()
    checkpoint = ops["area"] / "checkpoints" / "bronze" / ops["pipeline"].bronze_table
    _job(settings, ops, "--reset-checkpoint", "--earliest", "--no-silver")
    assert _bronze(spark, ops).count() == before
    end = plan_backfill(
        settings.kafka.bootstrap_servers, ops["pattern"], Bound("earliest"), Bound("latest")
    ).end
    committed = checkpoint_offsets(checkpoint)
    assert committed is not None
    assert {t: parts for t, parts in committed.items() if t in end} == end
    # A reset without a start would continue from there: nothing left to read.
    from gamelake.ops.reset import default_start

    again = plan_backfill(
        settings.kafka.bootstrap_servers, ops["pattern"], default_start(committed, end),
        Bound("latest"), committed=committed,
    )  # fmt: skip
    assert again.size == 0
    assert len(list(checkpoint.parent.glob(checkpoint.name + ".replaced-*"))) <= 1
    assert _bronze(spark, ops).groupBy(*COORDS).count().where(F.col("count") > 1).count() == 0

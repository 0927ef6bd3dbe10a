"""The silver micro-batch handler on a tiny batch: tables written, nothing lost, replay is a no-op."""

from __future__ import annotations

import json

import pytest

from gamelake import streams
from gamelake.contracts import load_contracts
from gamelake.conventions import table_path
from gamelake.streams import partitions_for, write_silver_batch
from tests.samples import EXAMPLES
from tests.unit.test_silver import BRONZE, KAFKA_TS, all_contracts

FAMILIES = ("telemetry", "game_api", "user_score")


@pytest.fixture(scope="module")
def contracts(root):
    return load_contracts(root / "conf" / "contracts")


def batch(spark):
    """One valid event per family, one broken payload, and one record of no known family."""
    from gamelake.silver import with_event_id

    payloads = [(f, json.dumps(EXAMPLES[f]).encode()) for f in FAMILIES]
    payloads += [("telemetry", b'{"player_id": "A01", "timestamp": '), ("stray", b"{}")]
    rows = [
        (None, value, f"gamelake.{family}", 0, offset, KAFKA_TS, KAFKA_TS, family, KAFKA_TS.date())
        for offset, (family, value) in enumerate(payloads)
    ]
    return with_event_id(spark.createDataFrame(rows, BRONZE), all_contracts())


def count(spark, lake, layer, table):
    return spark.read.format("delta").load(str(table_path(lake, layer, table))).count()


def test_a_batch_lands_in_silver_and_quarantine_once(spark, contracts, tmp_path):
    lake = tmp_path / "lake"
    kwargs = dict(contracts=contracts, lake=lake, app_id="t", rejects_family="_rejects")
    written = write_silver_batch(batch(spark), 0, **kwargs)

    assert written == {
        "silver.telemetry": 1, "silver.game_api": 1, "silver.user_score": 1, "ops.quarantine": 2,
    }  # fmt: skip
    for family in FAMILIES:
        assert count(spark, lake, "silver", family) == 1
    assert count(spark, lake, "silver", "player_inventory") > 0
    assert count(spark, lake, "ops", "quarantine") == 2
    assert count(spark, lake, "ops", "stream_progress") == len(written)

    # The same batch id again (a restart after a crash): every table already has it.
    write_silver_batch(batch(spark), 0, **kwargs)
    for family in FAMILIES:
        assert count(spark, lake, "silver", family) == 1
    assert count(spark, lake, "ops", "quarantine") == 2
    assert count(spark, lake, "ops", "stream_progress") == len(written)


def test_partitions_follow_the_rows_up_to_the_bound():
    per = streams.ROWS_PER_PARTITION
    assert [partitions_for(n, 4) for n in (0, 1, per, per + 1, 3 * per, 100 * per)] == [
        1, 1, 1, 2, 3, 4,
    ]  # fmt: skip
    assert partitions_for(100 * per, 1) == 1


def test_each_family_is_parsed_in_partitions_sized_to_its_own_rows(spark, contracts, monkeypatch):
    # One row a task: the batch's two telemetry rows take both partitions, game_api's one row
    # one, instead of one task per partition of the batch for every family.
    monkeypatch.setattr(streams, "ROWS_PER_PARTITION", 1)
    rows = batch(spark).repartition(2)
    per_family = {"telemetry": 2, "game_api": 1}
    family_partitions = {f: partitions_for(n, 2) for f, n in per_family.items()}
    parsed, counted = streams._parse_families(rows, family_partitions, contracts, None)
    try:
        assert {f: p.rdd.getNumPartitions() for f, p in parsed.items()} == per_family
        assert {f: p.count() for f, p in parsed.items()} == per_family
        assert {f: row[streams.VALID] for f, row in counted.items()} == {
            "telemetry": 1, "game_api": 1,
        }  # fmt: skip
    finally:
        for p in parsed.values():
            streams.release(p)


def file_stats(lake, layer, table):
    """The statistics of each file the table's first commit added."""
    log = table_path(lake, layer, table) / "_delta_log" / f"{0:020d}.json"
    actions = [json.loads(line) for line in log.read_text().splitlines()]
    return [json.loads(a["add"]["stats"]) for a in actions if "add" in a]


def test_tables_keep_file_statistics_on_their_times_only(spark, contracts, tmp_path):
    """Min/max statistics where files are ordered (times); row counts everywhere."""
    lake = tmp_path / "lake"
    kwargs = dict(contracts=contracts, lake=lake, app_id="t", rejects_family="_rejects")
    write_silver_batch(batch(spark), 0, **kwargs)

    expected = {
        ("silver", "telemetry"): {"event_ts", "ingested_at"},
        ("silver", "game_api"): {"event_ts", "ingested_at"},
        ("silver", "player_inventory"): set(),
        ("ops", "quarantine"): {"ingested_at", "quarantined_at"},
    }
    for (layer, table), columns in expected.items():
        stats = file_stats(lake, layer, table)
        assert stats, f"{layer}.{table} added no file"
        for s in stats:
            assert s["numRecords"] > 0
            assert set(s.get("minValues", {})) == columns, f"{layer}.{table}: {s}"
            assert set(s.get("maxValues", {})) == columns, f"{layer}.{table}: {s}"


def test_maintenance_can_z_order_the_tables_the_handler_creates(spark, contracts, root, tmp_path):
    """Delta Z-orders only by columns with statistics: a new silver table keeps them on the
    columns conf/maintenance.yaml Z-orders it by, beside its times."""
    from delta.tables import DeltaTable

    from gamelake.ops.maintenance_conf import load_maintenance_conf

    zorder = load_maintenance_conf(root / "conf").zorder_of("silver")
    lake = tmp_path / "lake"
    kwargs = dict(contracts=contracts, lake=lake, app_id="t", rejects_family="_r", zorder=zorder)
    write_silver_batch(batch(spark), 0, **kwargs)

    for table in ("telemetry", "game_api", "user_score"):
        (stats,) = file_stats(lake, "silver", table)
        assert set(stats["nullCount"]) == {"event_ts", "ingested_at", *zorder[table]}, stats
        path = str(table_path(lake, "silver", table))
        DeltaTable.forPath(spark, path).optimize().executeZOrderBy(*zorder[table])


def test_the_handler_leaves_the_session_conf_as_it_found_it(spark, contracts, tmp_path):
    """The handler runs its jobs without adaptive execution, in as many shuffle partitions as
    the batch is read in; the session it was handed keeps its own settings."""
    before = {k: spark.conf.get(k) for k in ("spark.sql.adaptive.enabled",
                                             "spark.sql.shuffle.partitions")}  # fmt: skip
    kwargs = dict(contracts=contracts, lake=tmp_path / "lake", app_id="t", rejects_family="_r")
    write_silver_batch(batch(spark), 0, **kwargs)
    assert {k: spark.conf.get(k) for k in before} == before


def test_session_conf_sets_for_the_block_then_restores_or_unsets(spark):
    from gamelake.spark import session_conf

    unset_key = "spark.gamelake.test.unset"
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    with (
        pytest.raises(RuntimeError),
        session_conf(spark, {"spark.sql.shuffle.partitions": "7", unset_key: "x"}),
    ):
        assert spark.conf.get("spark.sql.shuffle.partitions") == "7"
        assert spark.conf.get(unset_key) == "x"
        raise RuntimeError("a failing batch restores the conf too")
    assert spark.conf.get("spark.sql.shuffle.partitions") == partitions
    assert spark.conf.get(unset_key, None) is None


def test_spark_runs_the_throughput_collector(spark):
    """Micro-batches want rows per CPU second, not short pauses: the driver (and in local mode
    the executors with it) collects garbage with the parallel collector, not G1."""
    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory
    names = {bean.getName() for bean in management.getGarbageCollectorMXBeans()}
    assert names == {"PS Scavenge", "PS MarkSweep"}, names


def persistent_rdds(spark) -> set[int]:
    """Ids of the RDDs Spark keeps blocks of, but Delta's cache of each table's state."""
    kept = spark.sparkContext._jsc.getPersistentRDDs()
    return {i for i in kept.keySet() if not str(kept.get(i).name()).startswith("Delta Table State")}


def test_the_handler_keeps_no_rows_of_a_batch_once_it_is_written(spark, contracts, tmp_path):
    """The parsed rows are checkpointed per family; left to Spark's cleaner, a stream would
    hold several batches of them until the driver's next full garbage collection."""
    before = persistent_rdds(spark)
    kwargs = dict(contracts=contracts, lake=tmp_path / "lake", app_id="t", rejects_family="_r")
    write_silver_batch(batch(spark), 0, **kwargs)
    assert persistent_rdds(spark) - before == set()


def test_release_frees_a_checkpoint_and_a_cache(spark):
    from gamelake.spark import local_checkpoint, release

    before = persistent_rdds(spark)
    kept = local_checkpoint(spark.range(10))
    cached = spark.range(5).persist()
    assert cached.count() == 5
    assert len(persistent_rdds(spark) - before) == 2
    assert kept.count() == 10  # read from its blocks
    release(kept)
    release(cached)
    assert persistent_rdds(spark) - before == set()
    assert not cached.is_cached

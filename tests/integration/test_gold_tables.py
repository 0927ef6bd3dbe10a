"""The default `--once` pipeline of the shared lake produced every gold table, and Trino
serves each one (registration included the gold layer and the views)."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import uuid

import pytest

from gamelake import trino_client
from gamelake.conventions import table_path
from gamelake.gold.batch import BUILDERS
from gamelake.gold.streaming import GOLD_STREAMS, windowed_tables

pytestmark = pytest.mark.integration

WINDOWED = windowed_tables()
GOLD_TABLES = sorted({*BUILDERS, *GOLD_STREAMS, *WINDOWED})


@pytest.mark.parametrize("table", GOLD_TABLES)
def test_gold_table_is_in_the_lake_and_in_trino(lake_run, table):
    # A windowed table's rows are stored as its partials; Trino's gold.<table> answers from them.
    stored = WINDOWED[table].storage if table in WINDOWED else table
    assert (table_path(lake_run.lake, "gold", stored) / "_delta_log").is_dir()
    rows = trino_client.run(lake_run.conn, f"select count(*) from gold.{table}").rows[0][0]
    assert rows > 0, f"gold.{table} is empty"


def test_windowed_gold_has_one_row_per_key(lake_run):
    # A window written by several micro-batches (partials, rolled up or not) is one row.
    for name, agg in WINDOWED.items():
        keys = ", ".join(agg.group)
        dupes = trino_client.run(
            lake_run.conn,
            f"select count(*) from (select {keys} from gold.{name} group by {keys} "
            f"having count(*) > 1)",
        ).rows[0][0]
        assert dupes == 0, f"gold.{name} repeats keys"


T0 = dt.datetime(2024, 6, 1)
# Four batches in event-time order over 30 minutes; the third rolls the windows up that
# ended 10 minutes before its newest, the fourth adds to open and rolled-up ones alike.
SPANS = ((0, 400), (300, 1000), (900, 1800), (0, 1800))


def windowed_rows() -> dict[str, tuple[str, list[list[tuple]]]]:
    """Silver rows of each windowed table's source, in batches (values whose sums are exact
    in floating point, so Spark's and Trino's averages agree to the bit)."""
    rng = random.Random(20)

    def batches(row) -> list[list[tuple]]:
        return [
            [row(T0 + dt.timedelta(seconds=rng.uniform(lo, hi))) for _ in range(60)]
            for lo, hi in SPANS
        ]

    def pct() -> float:
        return rng.randrange(0, 201) / 2

    return {
        "player_kd_5m": (
            "player_id string, event_type string, event_at timestamp",
            batches(lambda at: (rng.choice("abc"), rng.choice(["kill", "death", "spawn"]), at)),
        ),
        "user_score_10s": (
            "user_id string, team_id string, score int, event_at timestamp",
            batches(lambda at: (rng.choice("uv"), "t", rng.randrange(0, 100), at)),
        ),
        "server_health_1m": (
            "region string, server_id string, cpu_load_pct double, memory_usage_pct double, "
            "latency_ms double, event_at timestamp",
            batches(
                lambda at: (
                    rng.choice(["eu", "us"]),
                    rng.choice(["s1", "s2", "s3"]),
                    pct(),
                    pct(),
                    pct(),
                    at,
                )
            ),
        ),
    }


def _utc(row) -> tuple:
    """A row's values with its timestamps as naive UTC (Trino returns them zoned)."""
    return tuple(
        v.astimezone(dt.UTC).replace(tzinfo=None) if isinstance(v, dt.datetime) and v.tzinfo
        else v
        for v in row
    )  # fmt: skip


def test_the_trino_views_answer_rolled_up_and_open_windows_as_spark_does(
    spark, services, trino_conn
):
    """Each windowed table written in batches that roll windows up and leave others open:
    Trino's view answers what Spark computes over all rows at once, also in a lake whose K/D
    table was registered before it became a view. The hourly team table, written from the
    10-second partials, answers what Spark computes from the silver rows."""
    from pyspark.sql import functions as F

    from gamelake.gold.streaming import make_windowed_handler
    from gamelake.gold.windows import ROLLED_UP, windowed_answer

    run_id = uuid.uuid4().hex[:8]
    area, catalog = services.paths.lake / "_tests" / f"views-{run_id}", f"glviews{run_id}"
    lake = area / "lake"
    try:
        expected, silver = {}, {}
        for name, (schema, batches) in windowed_rows().items():
            stream = GOLD_STREAMS[name]
            agg = stream.windowed
            derived = [(table_path(lake, "gold", d.storage), d) for d in stream.derived]
            target = table_path(lake, "gold", agg.storage)
            handler = make_windowed_handler(
                spark, target, agg, "app", derived=derived, late_s=600, rollup_every_s=300
            )
            frames = [spark.createDataFrame(rows, schema) for rows in batches]
            for batch_id, frame in enumerate(frames):
                handler(frame, batch_id)
            stored = spark.read.format("delta").load(str(target))
            rolled = stored.where(ROLLED_UP).count()
            assert 0 < rolled < stored.count(), f"{name}: no rolled-up and open rows both"
            whole = frames[0]
            for frame in frames[1:]:
                whole = whole.unionByName(frame)
            expected[name] = sorted(_utc(r) for r in windowed_answer(whole, agg).collect())
            silver[name] = whole
        hours = (
            silver["user_score_10s"]
            .groupBy("team_id", F.window("event_at", "1 hour").alias("w"))
            .agg(F.sum("score").alias("score"), F.count(F.lit(1)).alias("events"),
                 F.count_distinct("user_id").alias("players"))
            .select("team_id", "w.start", "w.end", "score", "events", "players")
        )  # fmt: skip
        expected["team_score_1h"] = sorted(_utc(r) for r in hours.collect())
        trino_client.create_lake_catalog(trino_conn, catalog, lake)
        # A lake from before the views: K/D as a table, registered under the view's name.
        old = table_path(lake, "gold", "player_kd_5m")
        spark.createDataFrame([("a", 1)], "player_id string, kills long").write.format(
            "delta"
        ).save(str(old))
        location = trino_client.trino_location(lake, old)
        assert trino_client.register_table(trino_conn, catalog, "gold", "player_kd_5m", location)
        trino_client.register_lake_at(trino_conn, catalog, lake, ("gold",))
        conn = trino_client.connect(services.trino, catalog=catalog)
        kinds = trino_client.run(
            conn, "select table_name, table_type from information_schema.tables "
            "where table_schema = 'gold'",
        ).rows  # fmt: skip
        assert {n: t for n, t in kinds if n in expected} == dict.fromkeys(expected, "VIEW")
        for name, rows in expected.items():
            columns = len(rows[0])
            got = trino_client.run(conn, f"select * from gold.{name}").rows
            assert sorted(_utc(r[:columns]) for r in got) == [_utc(r) for r in rows], name
    finally:
        trino_client.drop_catalog(trino_conn, catalog)
        shutil.rmtree(area, ignore_errors=True)

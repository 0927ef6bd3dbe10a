"""Streaming gold transforms on tiny frames, and the MERGE sink's idempotence per batch id."""

from __future__ import annotations

import datetime as dt

from gamelake.gold import streaming

T0 = dt.datetime(2024, 6, 1, 0, 0, 0)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


TELEMETRY = "event_id string, player_id string, event_type string, event_at timestamp"


def test_kd_per_window_counts_per_player_per_five_minutes(spark):
    df = spark.createDataFrame(
        [("1", "a", "kill", at(0)), ("2", "a", "kill", at(10)), ("3", "a", "death", at(299)),
         ("4", "a", "kill", at(300)), ("5", "b", "death", at(5))],
        TELEMETRY,
    )  # fmt: skip
    rows = {
        (r["player_id"], r["window_start"]): (r["kills"], r["deaths"], r["kd_ratio"])
        for r in streaming.kd_per_window(df).collect()
    }
    assert rows == {
        ("a", at(0)): (2, 1, 2.0),
        ("a", at(300)): (1, 0, None),  # no deaths: no ratio (NULLIF in the seed)
        ("b", at(0)): (0, 1, 0.0),
    }


def test_score_per_window_sums_per_user_per_ten_seconds(spark):
    df = spark.createDataFrame(
        [("u", "t", 5, at(0)), ("u", "t", 7, at(9.999)), ("u", "t", 1, at(10))],
        "user_id string, team_id string, score int, event_at timestamp",
    )
    rows = sorted(
        (r["window_start"], r["window_end"], r["score"], r["events"])
        for r in streaming.score_per_window(df).collect()
    )
    assert rows == [(at(0), at(10), 12, 2), (at(10), at(20), 1, 1)]


def test_server_health_per_region_per_minute(spark):
    df = spark.createDataFrame(
        [("us-west", "s1", 50.0, 40.0, 30.0, at(0)), ("us-west", "s2", 95.0, 60.0, 50.0, at(30)),
         ("us-west", "s1", 10.0, 40.0, 20.0, at(61))],
        "region string, server_id string, cpu_load_pct double, memory_usage_pct double, "
        "latency_ms double, event_at timestamp",
    )  # fmt: skip
    rows = {r["window_start"]: r for r in streaming.server_health_per_window(df).collect()}
    first = rows[at(0)]
    assert (first["samples"], first["servers"], first["overloaded_samples"]) == (2, 2, 1)
    assert (first["avg_cpu_load_pct"], first["max_latency_ms"]) == (72.5, 50.0)
    assert rows[at(60)]["samples"] == 1


def test_enrich_activity_left_joins_rooms_and_players_once_each(spark):
    activity = spark.createDataFrame(
        [("a1", 1, 10, 100, 1, 2, at(0), at(0)), ("a2", 2, 99, 5, 3, 4, at(1), at(1))],
        "event_id string, player_id long, room_id long, points int, coord_x int, coord_y int, "
        "activity_at timestamp, ingested_at timestamp",
    )
    rooms = spark.createDataFrame(
        [(10, "Arcade -- Expert", "Arcade", "Expert", at(-5), at(-5), "r1"),
         # A re-sent room with a new id must not double the activity row.
         (10, "Arcade -- Expert", "Arcade", "Expert", at(-5), at(-4), "r2")],
        "room_id long, room_name string, room_mode string, room_tier string, "
        "created_at timestamp, event_ts timestamp, event_id string",
    )  # fmt: skip
    players = spark.createDataFrame(
        [(1, "hash1", "1.2.3.0/24", at(-9), "p1")],
        "player_id long, player_name string, ip string, event_ts timestamp, event_id string",
    )
    rows = {r["event_id"]: r for r in streaming.enrich_activity(activity, rooms, players).collect()}
    assert len(rows) == 2
    assert (rows["a1"]["room_name"], rows["a1"]["player_name"]) == ("Arcade -- Expert", "hash1")
    assert rows["a1"]["room_created_at"] == at(-5)
    assert rows["a2"]["room_name"] is None and rows["a2"]["player_name"] is None


def test_merge_batch_upserts_and_skips_a_replayed_batch(spark, tmp_path):
    path = tmp_path / "gold" / "t"
    schema = "k string, v long"
    streaming.merge_batch(
        spark.createDataFrame([("a", 1), ("b", 1)], schema), path, ("k",), "app", 0
    )
    streaming.merge_batch(
        spark.createDataFrame([("a", 5), ("c", 1)], schema), path, ("k",), "app", 1
    )
    # Batch 1 again (a restart after the commit): skipped, even with other values.
    streaming.merge_batch(spark.createDataFrame([("a", 9)], schema), path, ("k",), "app", 1)
    rows = dict(spark.read.format("delta").load(str(path)).collect())
    assert rows == {"a": 5, "b": 1, "c": 1}


def test_a_gold_stream_updates_windows_across_batches(spark, tmp_path):
    lake = tmp_path / "lake"
    silver = lake / "silver" / "telemetry"

    def land(rows):
        spark.createDataFrame(rows, TELEMETRY).write.format("delta").mode("append").save(
            str(silver)
        )

    def run_once():
        q = streaming.start_gold_stream(
            spark, streaming.GOLD_STREAMS["player_kd_5m"], lake, tmp_path / "ckpt", "app",
            once=True, interval="1 second",
        )  # fmt: skip
        q.awaitTermination()

    land([("1", "a", "kill", at(0)), ("2", "a", "death", at(10))])
    run_once()
    land([("3", "a", "kill", at(20)), ("4", "b", "kill", at(400))])
    run_once()
    out = spark.read.format("delta").load(str(lake / "gold" / "player_kd_5m"))
    rows = {(r["player_id"], r["window_start"]): (r["kills"], r["deaths"]) for r in out.collect()}
    # The first window was updated in place (MERGE), not appended twice.
    assert rows == {("a", at(0)): (2, 1), ("b", at(300)): (1, 0)}

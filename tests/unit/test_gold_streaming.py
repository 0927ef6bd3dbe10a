"""Streaming gold transforms on tiny frames, the sinks' idempotence per batch id and their
roll-up, and the gold queries' cadence."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from types import SimpleNamespace

from gamelake.gold import streaming, windows
from gamelake.io import trigger_kwargs
from gamelake.jobcontext import JobContext
from gamelake.ledger import batch_tag
from gamelake.stages import Stages
from gamelake.streams import StreamOptions
from tests.concurrent_commit import commit_first, held_from_run

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


KD = streaming.GOLD_STREAMS["player_kd_5m"].windowed


def last_commit(table) -> dict[str, dict]:
    """The actions of the Delta table's newest commit, by kind (one of each kept)."""
    log_dir = table / "_delta_log"
    newest = max(log_dir.glob("*.json"))
    return {k: v for line in newest.read_text().splitlines() for k, v in json.loads(line).items()}


def view_rows(spark, path, agg) -> list:
    """A windowed table's rows as its view answers: partials merged per key and window."""
    stored = spark.read.format("delta").load(str(path)).drop(windows.ROLLED_UP)
    return windows.merge_partials(stored, agg).select(*windows.answer_columns(agg)).collect()


def kd_answer(spark, path) -> dict:
    """The K/D table as its view answers, per player and window."""
    out = view_rows(spark, path, KD)
    return {(r["player_id"], r["window_start"]): (r["kills"], r["deaths"]) for r in out}


def telemetry(spark, *rows):
    return spark.createDataFrame(
        [(str(i), p, kind, at(t)) for i, (p, kind, t) in enumerate(rows)], TELEMETRY
    )


def test_a_windowed_batch_appends_its_partials_once_with_its_tag(spark, tmp_path):
    path, app = tmp_path / "gold" / "player_kd_5m_partials", "gamelake.gold.player_kd_5m.0a1b"
    sink = streaming.WindowedSink(path, KD, app)
    assert sink.write(telemetry(spark, ("a", "kill", 0), ("a", "death", 10)), 0)
    assert sink.write(telemetry(spark, ("a", "kill", 20), ("b", "kill", 400)), 1)
    assert not sink.write(telemetry(spark, ("a", "kill", 30)), 1)  # a replay: skipped
    commit = last_commit(path)
    assert commit["commitInfo"]["operation"] == "WRITE"  # an append, no MERGE
    assert commit["commitInfo"]["userMetadata"] == batch_tag(app, 1)
    assert "txn" not in commit  # no SetTransaction: no state rebuild on the next commit
    # A restarted process has a new sink: it knows the batch from the log alone.
    assert not streaming.WindowedSink(path, KD, app).write(telemetry(spark, ("a", "kill", 5)), 1)
    assert kd_answer(spark, path) == {("a", at(0)): (2, 1), ("b", at(300)): (1, 0)}
    # Two partial rows for the first window: each batch appended its own.
    assert spark.read.format("delta").load(str(path)).count() == 3


def test_closed_windows_roll_up_into_one_row_and_later_events_merge_into_them(spark, tmp_path):
    path, app = tmp_path / "gold" / "player_kd_5m_partials", "app"

    def sink():  # a window closes 10 min before the newest seen; roll-ups 5 min apart
        return streaming.WindowedSink(path, KD, app, late_s=600, rollup_every_s=300)

    def stored_rows(rolled: bool) -> dict:
        where = windows.ROLLED_UP if rolled else f"not {windows.ROLLED_UP}"
        rows = spark.read.format("delta").load(str(path)).where(where).collect()
        return {(r["player_id"], r["window_start"]): (r["kills"], r["deaths"]) for r in rows}

    writer = sink()
    writer.write(telemetry(spark, ("a", "kill", 0), ("b", "death", 60)), 0)
    writer.write(telemetry(spark, ("a", "kill", 100), ("a", "kill", 700)), 1)
    assert stored_rows(rolled=True) == {}  # nothing closed for 5 min yet
    # Newest window ends at 1,500 s: windows ending by 900 s are closed, the oldest open one
    # (ending at 300 s) for 600 s, so this batch rolls them up.
    writer.write(telemetry(spark, ("a", "death", 1200), ("a", "kill", 250)), 2)
    assert stored_rows(rolled=True) == {
        ("a", at(0)): (3, 0), ("b", at(0)): (0, 1), ("a", at(600)): (1, 0)
    }  # fmt: skip
    assert stored_rows(rolled=False) == {("a", at(1200)): (0, 1)}
    assert last_commit(path)["commitInfo"]["userMetadata"] == batch_tag(app, 2)
    # After a restart: a late kill merges into its rolled-up window, an open one is appended.
    sink().write(telemetry(spark, ("a", "kill", 10), ("a", "kill", 1210)), 3)
    assert stored_rows(rolled=True) == {
        ("a", at(0)): (4, 0), ("b", at(0)): (0, 1), ("a", at(600)): (1, 0)
    }  # fmt: skip
    assert kd_answer(spark, path)[("a", at(1200))] == (1, 1)
    # A replay of the roll-up's batch after a restart is skipped like any other.
    assert not sink().write(telemetry(spark, ("a", "kill", 1300)), 2)


def test_a_roll_up_that_loses_to_a_concurrent_optimize_is_retried_not_failed(spark, tmp_path):
    # `gamelake maintain optimize` compacts the open partials a roll-up is rewriting: Delta
    # refuses the roll-up's commit (its read files were rewritten). The batch must run again
    # on the new snapshot rather than stop the gold stream.
    from delta.tables import DeltaTable

    path, latch = tmp_path / "gold" / "player_kd_5m_partials", tmp_path / "latch"
    latch.mkdir()
    writer = streaming.WindowedSink(path, KD, "app", late_s=600, rollup_every_s=300)
    writer.write(telemetry(spark, ("a", "kill", 0), ("b", "death", 60)), 0)
    writer.write(telemetry(spark, ("a", "kill", 100), ("a", "kill", 700)), 1)
    parts = writer.partials(telemetry(spark, ("a", "death", 1200), ("a", "kill", 250)))
    # Its first run is the batch's boundary statistics, before the roll-up's transaction.
    held = parts.coalesce(1).withColumn("player_id", held_from_run(latch, 2)("player_id"))
    outcome = commit_first(  # batch 2 rolls the closed windows up (see the test above)
        lambda: writer.write_partials(held, 2),
        latch,
        lambda: DeltaTable.forPath(spark, str(path)).optimize().executeCompaction().first(),
    )
    assert outcome["other"]["metrics"]["numFilesRemoved"] >= 2  # the compaction came first
    assert outcome.get("value") is True, outcome.get("error")
    assert kd_answer(spark, path) == {
        ("a", at(0)): (3, 0), ("b", at(0)): (0, 1), ("a", at(600)): (1, 0),
        ("a", at(1200)): (0, 1),
    }  # fmt: skip
    assert last_commit(path)["commitInfo"]["userMetadata"] == batch_tag("app", 2)
    assert not writer.write(telemetry(spark, ("a", "kill", 1300)), 2)  # and only once


def test_a_late_row_replaces_only_the_rolled_up_rows_from_its_window_on(spark, tmp_path):
    path = tmp_path / "gold" / "player_kd_5m_partials"
    writer = streaming.WindowedSink(path, KD, "app", late_s=0, rollup_every_s=0)
    # Everything rolled up at once: the windows at 0, 600 and 1,200 s.
    writer.write(telemetry(spark, ("a", "kill", 0), ("a", "kill", 700), ("b", "kill", 1300)), 0)
    writer.write(telemetry(spark, ("a", "death", 650)), 1)
    commit = last_commit(path)
    assert (
        "window_end >= timestamp_micros("
        in commit["commitInfo"]["operationParameters"]["predicate"]
    )  # replaceWhere from the late window on, not the whole table
    assert kd_answer(spark, path) == {
        ("a", at(0)): (1, 0), ("a", at(600)): (1, 1), ("b", at(1200)): (1, 0)
    }  # fmt: skip
    assert spark.read.format("delta").load(str(path)).count() == 3  # still one row a window


def test_the_view_answers_from_rolled_up_rows_and_open_partials():
    sql = windows.view_sql(KD)
    assert "from gold.player_kd_5m_partials" in sql
    assert "where is_rolled_up" in sql and "where not is_rolled_up" in sql
    assert "cast(kills as double) / nullif(deaths, 0) as kd_ratio" in sql
    assert [v.name for v in streaming.gold_views()] == [
        "player_kd_5m", "user_score_10s", "team_score_1h", "server_health_1m"
    ]  # fmt: skip


SCORES = "user_id string, team_id string, score int, event_at timestamp"
HOUR = 3600


def team_hours(spark, path) -> dict:
    """The hourly team table as its view answers: score, events and players per team-hour."""
    out = view_rows(spark, path, windows.TEAM_SCORE_1H)
    return {(r["team_id"], r["window_start"]): (r["score"], r["events"], r["players"]) for r in out}


def test_the_hourly_team_table_comes_from_the_ten_second_partials_once_per_batch(spark, tmp_path):
    gold, app = tmp_path / "gold", "gamelake.gold.user_score_10s_partials.1"
    seconds, hourly = gold / "user_score_10s_partials", gold / "team_score_1h_partials"

    def handler():  # a new one per (re)start of the query
        return streaming.make_windowed_handler(
            spark, seconds, windows.USER_SCORE_10S, app, derived=[(hourly, windows.TEAM_SCORE_1H)]
        )

    batches = [
        spark.createDataFrame(rows, SCORES)
        for rows in (
            [("u", "t", 5, at(0)), ("u", "t", 7, at(5)), ("v", "t", 1, at(HOUR + 1))],
            [("v", "t", 2, at(30)), ("w", "s", 4, at(HOUR + 2))],
            [("u", "t", 3, at(HOUR + 50)), ("w", "s", 6, at(10))],
        )
    ]
    run = handler()
    run(batches[0], 0)
    run(batches[1], 1)
    run(batches[1], 1)  # a replay: both tables skip it
    expected = {("t", at(0)): (14, 3, 2), ("t", at(HOUR)): (1, 1, 1), ("s", at(HOUR)): (4, 1, 1)}
    assert team_hours(spark, hourly) == expected
    assert last_commit(hourly)["commitInfo"]["userMetadata"] == batch_tag(app, 1)

    # Batch 2 reached the 10-second table only (a crash between the two commits); the hourly
    # table is lost too. The restarted query rebuilds it from the 10-second table before any
    # batch, tagged with batch 2, so the replay of batch 2 adds nothing twice.
    streaming.WindowedSink(seconds, windows.USER_SCORE_10S, app).write(batches[2], 2)
    shutil.rmtree(hourly)
    handler()(batches[2], 2)
    expected.update({("t", at(HOUR)): (4, 2, 2), ("s", at(0)): (6, 1, 1)})
    assert team_hours(spark, hourly) == expected
    assert last_commit(hourly)["commitInfo"]["userMetadata"] == batch_tag(app, 2)


def test_a_batch_the_ten_second_table_holds_still_reaches_the_hourly_table(spark, tmp_path):
    gold, app = tmp_path / "gold", "app"
    seconds, hourly = gold / "user_score_10s_partials", gold / "team_score_1h_partials"
    run = streaming.make_windowed_handler(
        spark, seconds, windows.USER_SCORE_10S, app, derived=[(hourly, windows.TEAM_SCORE_1H)]
    )
    run(spark.createDataFrame([("u", "t", 5, at(0))], SCORES), 0)
    # Batch 1 committed to the 10-second table, then the process died.
    batch = spark.createDataFrame([("v", "t", 2, at(60))], SCORES)
    streaming.WindowedSink(seconds, windows.USER_SCORE_10S, app).write(batch, 1)
    streaming.make_windowed_handler(
        spark, seconds, windows.USER_SCORE_10S, app, derived=[(hourly, windows.TEAM_SCORE_1H)]
    )(batch, 1)
    assert team_hours(spark, hourly) == {("t", at(0)): (7, 2, 2)}
    assert spark.read.format("delta").load(str(seconds)).count() == 2  # not doubled either


ACTIVITY = (
    "event_id string, player_id long, room_id long, points int, coord_x int, coord_y int, "
    "activity_at timestamp, ingested_at timestamp"
)


def test_enriched_activity_is_appended_once_per_batch_with_its_tag(spark, tmp_path):
    lake, app = tmp_path / "lake", "gamelake.gold.player_activity_enriched.77"
    batch = spark.createDataFrame([("a1", 1, 10, 100, 1, 2, at(0), at(0))], ACTIVITY)
    handler = streaming.make_enrich_handler(lake, app)  # no silver rooms or players yet
    handler(batch, 0)
    handler(batch, 0)  # a replay in the same process
    target = lake / "gold" / "player_activity_enriched"
    assert last_commit(target)["commitInfo"]["userMetadata"] == batch_tag(app, 0)
    streaming.make_enrich_handler(lake, app)(batch, 0)  # a replay after a restart
    rows = spark.read.format("delta").load(str(target)).collect()
    assert [(r["event_id"], r["room_name"]) for r in rows] == [("a1", None)]


def test_gold_queries_trigger_at_the_gold_interval_unless_run_once(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(streaming, "ready_streams", lambda lake, running: [
        streaming.GOLD_STREAMS["player_kd_5m"]])  # fmt: skip
    monkeypatch.setattr(streaming, "start_gold_stream", lambda *a: started.append(a) or a)
    spark = SimpleNamespace(conf=SimpleNamespace(set=lambda k, v: None))
    settings = SimpleNamespace(paths=SimpleNamespace(lake=tmp_path / "lake"))

    def trigger(once: bool, gold_interval: str | None) -> dict:
        options = StreamOptions(once=once, interval="10 seconds", max_bytes_per_trigger="16m")
        job = JobContext(settings, None, {}, "", "", tmp_path / "ckpt", options, gold_interval)
        Stages(spark, job).gold({})
        _spark, _stream, _lake, _ckpt, _app, once, interval, _files, max_bytes, born = started[-1]
        assert max_bytes == "16m" and born is not None  # the rest as the streams' options
        return trigger_kwargs(once, interval)

    assert trigger(False, "1 minute") == {"processingTime": "1 minute"}
    assert trigger(False, None) == {"processingTime": "10 seconds"}  # unset: as before
    assert trigger(True, "1 minute") == {"availableNow": True}


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
    target = lake / "gold" / "player_kd_5m_partials"
    # The first window's partials add up across batches.
    assert kd_answer(spark, target) == {("a", at(0)): (2, 1), ("b", at(300)): (1, 0)}
    # The batch tag (Spark's batch id) rides in each append's own commit.
    info = last_commit(target)["commitInfo"]
    assert info["operation"] == "WRITE"
    assert json.loads(info["userMetadata"])["gamelake.batch"]["app"] == "app"


def test_a_gold_stream_started_on_a_lake_at_rest_builds_a_missing_hourly_table(spark, tmp_path):
    lake = tmp_path / "lake"
    rows = [("u", "t", 5, at(0)), ("v", "t", 2, at(HOUR + 3))]
    silver = str(lake / "silver" / "user_score")
    spark.createDataFrame(rows, SCORES).write.format("delta").save(silver)

    def run_once():
        streaming.start_gold_stream(
            spark, streaming.GOLD_STREAMS["user_score_10s"], lake, tmp_path / "ckpt", "app",
            once=True, interval="1 second",
        ).awaitTermination()  # fmt: skip

    run_once()
    hourly = lake / "gold" / "team_score_1h_partials"
    shutil.rmtree(hourly)  # e.g. a lake from before the hourly table
    run_once()  # no new silver rows: no micro-batch runs
    assert team_hours(spark, hourly) == {("t", at(0)): (5, 1, 1), ("t", at(HOUR)): (2, 1, 1)}
    # Built as a roll-up leaves it: the hour that closed an hour before the newest is rolled up.
    stored = spark.read.format("delta").load(str(hourly))
    assert [r["window_start"] for r in stored.where(windows.ROLLED_UP).collect()] == [at(0)]

"""Batch gold transforms on tiny silver-shaped frames."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from gamelake.gold import batch
from tests.concurrent_commit import commit_first, held_from_run

T0 = dt.datetime(2024, 6, 1, 0, 0, 0)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


GAME_API = (
    "event_id string, event_type string, event_at timestamp, user_id string, status string, "
    "player_wealth double, player_health int"
)


def test_player_profile_takes_the_latest_state_and_first_milestones(spark):
    api = spark.createDataFrame(
        [
            ("e1", "register", at(0), "u1", "created", 1000.0, 100),
            ("e2", "login", at(10), "u1", "logged_in", 1100.0, 100),
            ("e3", "buy_sword", at(20), "u1", "insufficient_funds", 1100.0, 90),
            ("e4", "buy_spell", at(30), "u1", "approved_purchase", 900.0, 80),
            ("e5", "join_guild", at(95), "u1", "joined", 900.0, 85),
            ("e6", "view_profile", at(40), "u1", "viewed", 900.0, 70),  # late: not the latest
            ("e7", "register", at(5), "u2", "created", 50.0, 100),
        ],
        GAME_API,
    )
    inventory = spark.createDataFrame(
        [("e4", "u1", 0, "charm", "spell", 2), ("e5", "u1", 0, "charm", "spell", 2),
         ("e5", "u1", 1, "cutlass", None, None)],
        "event_id string, user_id string, position int, item_name string, item_kind string, "
        "quantity int",
    )  # fmt: skip
    affiliations = spark.createDataFrame(
        [("e5", "u1", 0, "soldiers", "recruit", at(95))],
        "event_id string, user_id string, position int, org string, org_level string, "
        "joined_at timestamp",
    )
    rows = {r["user_id"]: r for r in batch.player_profile(api, inventory, affiliations).collect()}
    u1 = rows["u1"]
    assert (u1["wealth"], u1["health"]) == (900.0, 85)  # e5 is the latest by event time
    assert (u1["inventory_items"], u1["inventory_quantity"]) == (2, 3)
    assert (u1["orgs"], u1["orgs_count"]) == (["soldiers"], 1)
    assert u1["first_login_at"] == at(10)
    assert u1["first_purchase_at"] == at(30)  # the refused purchase does not count
    assert u1["first_org_join_at"] == at(95)
    assert u1["time_played_s"] == 95.0
    assert (u1["purchases"], u1["org_joins"], u1["api_calls"]) == (1, 1, 6)
    u2 = rows["u2"]
    assert u2["first_login_at"] is None and u2["first_purchase_at"] is None
    assert (u2["inventory_items"], u2["orgs"], u2["orgs_count"]) == (0, [], 0)


ROOMS = (
    "event_id string, event_ts timestamp, room_id long, room_name string, room_mode string, "
    "room_tier string, created_at timestamp, creator_player_id long"
)
ACTIVITY = "event_id string, player_id long, room_id long, points int, activity_at timestamp"


def test_room_stats_counts_players_and_points_and_keeps_unknown_rooms(spark):
    rooms = spark.createDataFrame(
        [("r1", at(0), 10, "Arcade -- Expert", "Arcade", "Expert", at(0), 7),
         ("r2", at(1), 11, "Classic -- Skilled", "Classic", "Skilled", at(1), 7)],
        ROOMS,
    )  # fmt: skip
    activity = spark.createDataFrame(
        [("a1", 1, 10, 100, at(5)), ("a2", 1, 10, 300, at(6)), ("a3", 2, 10, 50, at(7)),
         ("a4", 3, 99, 10, at(8))],
        ACTIVITY,
    )  # fmt: skip
    rows = {r["room_id"]: r for r in batch.room_stats(rooms, activity).collect()}
    assert rows[10]["unique_players"] == 2 and rows[10]["activity_events"] == 3
    assert (rows[10]["max_points"], rows[10]["min_points"], rows[10]["total_points"]) == (
        300,
        50,
        450,
    )
    assert rows[11]["activity_events"] == 0 and rows[11]["avg_points"] is None
    assert rows[99]["room_name"] is None and rows[99]["unique_players"] == 1  # activity kept


def test_purchase_facts_sign_refunds_and_keep_money_exact(spark):
    tx = spark.createDataFrame(
        [("t1", "e1", "u1", "PC", "purchase", "skin_x", "skin", "USD", decimal.Decimal("4.99"), at(0)),
         ("t2", "e2", "u1", "PC", "refund", "skin_x", "skin", "USD", decimal.Decimal("4.99"), at(9))],
        "transaction_id string, event_id string, user_id string, platform string, "
        "transaction_type string, item_id string, item_type string, currency string, "
        "amount decimal(12,2), event_at timestamp",
    )  # fmt: skip
    rows = {r["transaction_id"]: r for r in batch.purchase_facts(tx).collect()}
    assert rows["t1"]["signed_amount"] == decimal.Decimal("4.99")
    assert rows["t2"]["signed_amount"] == decimal.Decimal("-4.99")
    assert rows["t2"]["event_date"] == T0.date()


ACTION = (
    "event_id string, session_id string, player_id string, event_type string, level_id string, "
    "map_id string, event_at timestamp"
)


def test_level_funnel_finds_sessions_stuck_at_their_last_level(spark):
    actions = spark.createDataFrame(
        [
            # s1 completes level 1, then stops at level 2 without completing: stuck at 2.
            ("1", "s1", "p1", "move", "level_01", "map_01", at(0)),
            ("2", "s1", "p1", "level_complete", "level_01", "map_01", at(1)),
            ("3", "s1", "p1", "interaction", "level_02", "map_03", at(2)),
            # s2 completes level 1 and has nothing after: not stuck.
            ("4", "s2", "p2", "move", "level_01", "map_01", at(3)),
            ("5", "s2", "p2", "level_complete", "level_01", "map_01", at(4)),
            # s3 stops at level 1.
            ("6", "s3", "p1", "interaction", "level_01", "map_01", at(5)),
        ],
        ACTION,
    )
    rows = {(r["level_id"], r["map_id"]): r for r in batch.level_funnel(actions).collect()}
    l1 = rows[("level_01", "map_01")]
    assert (l1["sessions"], l1["players"], l1["events"]) == (3, 2, 5)
    assert (l1["completed_sessions"], l1["stuck_sessions"]) == (2, 1)
    l2 = rows[("level_02", "map_03")]
    assert (l2["sessions"], l2["completed_sessions"], l2["stuck_sessions"]) == (1, 0, 1)


def test_daily_active_players_unifies_numeric_and_text_player_ids(spark):
    activity = spark.createDataFrame(
        [(1001, at(0)), (1002, at(86400))], "player_id long, event_ts timestamp"
    )
    telemetry = spark.createDataFrame(
        [("player_1001", at(10)), ("player_1003", at(20))], "player_id string, event_ts timestamp"
    )
    out = batch.daily_active_players({"player_activity": activity, "telemetry": telemetry})
    rows = {r["activity_date"]: (r["active_players"], r["events"]) for r in out.collect()}
    assert rows == {T0.date(): (2, 3), (T0 + dt.timedelta(days=1)).date(): (1, 1)}


def test_user_sessions_split_on_gaps_longer_than_five_minutes(spark):
    scores = spark.createDataFrame(
        [("1", "u1", "t", 5, at(0)), ("2", "u1", "t", 5, at(300)),  # exactly the gap: same
         ("3", "u1", "t", 1, at(601)),  # 301 s later: a new session
         ("4", "u2", "t", 7, at(50))],
        "event_id string, user_id string, team_id string, score int, event_at timestamp",
    )  # fmt: skip
    rows = sorted(
        (r["user_id"], r["session_start"], r["events"], r["total_score"], r["length_s"])
        for r in batch.user_sessions(scores).collect()
    )
    assert rows == [
        ("u1", at(0), 2, 10, 300.0),
        ("u1", at(601), 1, 1, 0.0),
        ("u2", at(50), 1, 7, 0.0),
    ]


def test_rebuild_rejects_unknown_tables(spark, tmp_path):
    with pytest.raises(KeyError, match="nope"):
        batch.rebuild(spark, tmp_path, ["nope"])


def test_rebuild_skips_tables_whose_silver_is_missing(spark, tmp_path):
    assert batch.rebuild(spark, tmp_path, ["purchase_facts"]) == {"purchase_facts": None}


TX_SCHEMA = (
    "transaction_id string, event_id string, user_id string, platform string, "
    "transaction_type string, item_id string, item_type string, currency string, "
    "amount decimal(12,2), event_at timestamp"
)


def append_transaction(spark, lake, transaction_id: str) -> None:
    row = (transaction_id, "e-" + transaction_id, "u1", "PC", "purchase", "i", "skin", "USD",
           decimal.Decimal("1.00"), at(0))  # fmt: skip
    spark.createDataFrame([row], TX_SCHEMA).write.format("delta").mode("append").save(
        str(lake / "silver" / "transaction")
    )


def test_rebuild_replaces_a_table_atomically(spark, tmp_path):
    append_transaction(spark, tmp_path, "t1")
    assert batch.rebuild(spark, tmp_path, ["purchase_facts"]) == {"purchase_facts": 1}
    append_transaction(spark, tmp_path, "t1")
    assert batch.rebuild(spark, tmp_path, ["purchase_facts"]) == {"purchase_facts": 2}
    from delta.tables import DeltaTable

    history = DeltaTable.forPath(spark, str(tmp_path / "gold" / "purchase_facts")).history()
    # Each rebuild is a single commit: readers see one version or the next.
    assert [r["operation"] for r in history.orderBy("version").collect()] == ["WRITE", "WRITE"]


UNIQUE_TX = {
    "rules": [
        {"name": "one_row_per_transaction", "description": "d", "action": "fail",
         "check": "unique", "column": "transaction_id"},
    ]
}  # fmt: skip


def test_a_table_failing_its_gate_keeps_its_published_version(spark, tmp_path):
    from gamelake.dq.gate import TableGate
    from gamelake.dq.results import RESULTS_TABLE, GateFailed
    from gamelake.dq.rules import parse_rules
    from gamelake.dq.suite import SuiteRunner

    rules = {"gold.purchase_facts": parse_rules("gold.purchase_facts", UNIQUE_TX)}
    gate = TableGate(rules, tmp_path, SuiteRunner())
    append_transaction(spark, tmp_path, "t1")
    assert batch.rebuild(spark, tmp_path, ["purchase_facts"], gate=gate) == {"purchase_facts": 1}
    append_transaction(spark, tmp_path, "t1")  # the same transaction twice: not unique
    with pytest.raises(GateFailed, match="one_row_per_transaction") as held:
        batch.rebuild(spark, tmp_path, ["purchase_facts"], gate=gate)
    assert held.value.written == {}
    published = spark.read.format("delta").load(str(tmp_path / "gold" / "purchase_facts"))
    assert published.count() == 1
    results = spark.read.format("delta").load(str(tmp_path / "ops" / RESULTS_TABLE))
    outcomes = sorted((r.batch_id, r.passed) for r in results.collect())
    # Version 0 passed; version 1 was judged and refused.
    assert outcomes == [(0, True), (1, False)]


def test_a_rebuild_that_loses_to_a_concurrent_optimize_is_written_again(spark, tmp_path):
    # `gamelake maintain optimize` beside `gamelake run`: a compaction committed while the
    # rebuild's overwrite was in flight makes Delta refuse the overwrite, which used to stop
    # the whole pipeline. The same rows are written again on the new snapshot.
    from delta.tables import DeltaTable

    path, latch = tmp_path / "gold" / "t", tmp_path / "latch"
    latch.mkdir()
    for n in range(3):  # three small files for the compaction to merge
        small = spark.createDataFrame([(str(n),)], "id string")
        small.write.format("delta").mode("append").save(str(path))
    rows = spark.createDataFrame([("x",), ("y",)], "id string").coalesce(1)
    held = rows.withColumn("id", held_from_run(latch)("id"))
    since = batch._next_version(path)
    outcome = commit_first(
        lambda: batch.publish(held, path, "gold.t rebuild", since=since),
        latch,
        lambda: DeltaTable.forPath(spark, str(path)).optimize().executeCompaction().first(),
    )
    assert outcome["other"]["metrics"]["numFilesRemoved"] == 3  # the compaction came first
    assert "error" not in outcome, outcome.get("error")
    assert outcome["value"] == 4  # versions 0-2 appends, 3 the compaction, 4 the rebuild
    assert sorted(r.id for r in spark.read.format("delta").load(str(path)).collect()) == [
        "x", "y"
    ]  # fmt: skip


def test_a_publication_knows_its_version_when_a_vacuum_commits_first(spark, tmp_path):
    # A vacuum's START and END commits carry no files, so the overwrite does not conflict
    # with them: it lands two versions later than the table's next version when it began.
    from delta.tables import DeltaTable

    path, latch = tmp_path / "gold" / "t", tmp_path / "latch"
    latch.mkdir()
    spark.createDataFrame([("old",)], "id string").write.format("delta").save(str(path))
    held = spark.createDataFrame([("new",)], "id string").coalesce(1)
    held = held.withColumn("id", held_from_run(latch)("id"))
    since = batch._next_version(path)
    outcome = commit_first(
        lambda: batch.publish(held, path, "gold.t rebuild", since=since),
        latch,
        lambda: DeltaTable.forPath(spark, str(path)).vacuum(),  # the default 7 days: no file
    )
    assert "error" not in outcome, outcome.get("error")
    history = DeltaTable.forPath(spark, str(path)).history().orderBy("version").collect()
    assert [r.operation for r in history] == ["WRITE", "VACUUM START", "VACUUM END", "WRITE"]
    assert outcome["value"] == 3


def test_the_gate_records_the_version_a_retried_publication_became(spark, tmp_path):
    from gamelake.dq.gate import TableGate
    from gamelake.dq.results import RESULTS_TABLE
    from gamelake.dq.rules import parse_rules
    from gamelake.dq.suite import SuiteRunner

    rules = {"gold.purchase_facts": parse_rules("gold.purchase_facts", UNIQUE_TX)}
    gate = TableGate(rules, tmp_path, SuiteRunner())
    df = spark.createDataFrame([("t1",)], "transaction_id string")
    gate.check(spark, "gold.purchase_facts", df, 3)
    gate.check(spark, "gold.other", df, 7)  # no rules: nothing kept
    gate.published("gold.purchase_facts", 4)
    gate.record(spark)
    results = spark.read.format("delta").load(str(tmp_path / "ops" / RESULTS_TABLE))
    assert {(r.batch_id, r.passed) for r in results.collect()} == {(4, True)}


def test_next_version_reads_the_newest_commit_file(tmp_path):
    assert batch._next_version(tmp_path / "absent") == 0
    log_dir = tmp_path / "t" / "_delta_log"
    log_dir.mkdir(parents=True)
    assert batch._next_version(tmp_path / "t") == 0
    for name in ("00000000000000000009.json", "00000000000000000010.json",
                 "00000000000000000010.checkpoint.parquet", "00000000000000000010.crc",
                 "00000000000000000003.00000000000000000011.compacted.json"):  # fmt: skip
        (log_dir / name).touch()
    assert batch._next_version(tmp_path / "t") == 11

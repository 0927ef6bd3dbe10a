"""Batch gold: business entities rebuilt from silver at any time.

Each table has a pure `transform(silver frames..., params) -> DataFrame` (tested on tiny
frames) and a builder in `BUILDERS` naming the silver tables it reads. `rebuild(spark, lake)`
reads them, transforms and replaces each gold table in one Delta commit (mode overwrite), so
a reader sees the old table or the new one, never a half-written one.

    from gamelake.gold.batch import BUILDERS, rebuild
    rebuild(spark, lake)                       # every table
    rebuild(spark, lake, ["player_profile"])   # some
    rebuild(spark, lake, gate=table_gate(conf, lake))   # each table checked before publication

With a gate, a table whose fail-rule fails is not replaced (readers keep the published
version); the other tables are rebuilt, then GateFailed names every table held back.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from gamelake.columns import empty_array
from gamelake.conventions import is_delta_table, table_path
from gamelake.dq.results import GateFailed
from gamelake.game_api import JOINED, LOGGED_IN, PURCHASED
from gamelake.gold import GOLD_LAYER
from gamelake.ledger import commit_versions, tagged_version
from gamelake.ops.retry import with_conflict_retry

if TYPE_CHECKING:
    from gamelake.dq.gate import TableGate

log = logging.getLogger(__name__)

# A user's events further apart than this start a new session (classic game analytics).
SESSION_GAP_S = 300


def _latest(col: str | Column, order: Column) -> Column:
    return F.max_by(col, order)


def _seconds_between(start: Column, end: Column) -> Column:
    return (F.unix_millis(end) - F.unix_millis(start)) / 1000.0


# --- player profile and state (seed 003) --------------------------------------------------------


def player_profile(game_api: DataFrame, inventory: DataFrame, affiliations: DataFrame) -> DataFrame:
    """One row per Game API user: latest state (wealth, health, inventory, orgs), first login,
    first purchase, first org join, and time played (first to last call, seconds)."""
    order = F.struct("event_at", "event_id")
    is_login = (F.col("event_type") == "login") & (F.col("status") == LOGGED_IN)
    per_user = game_api.groupBy("user_id").agg(
        F.count("*").alias("api_calls"),
        F.min("event_at").alias("first_seen_at"),
        F.max("event_at").alias("last_seen_at"),
        F.min(F.when(F.col("event_type") == "register", F.col("event_at"))).alias("registered_at"),
        F.min(F.when(is_login, F.col("event_at"))).alias("first_login_at"),
        F.min(F.when(F.col("status") == PURCHASED, F.col("event_at"))).alias("first_purchase_at"),
        F.min(F.when(F.col("status") == JOINED, F.col("event_at"))).alias("first_org_join_at"),
        F.count(F.when(F.col("status") == PURCHASED, 1)).alias("purchases"),
        F.count(F.when(F.col("status") == JOINED, 1)).alias("org_joins"),
        _latest("event_id", order).alias("_latest_event_id"),
        _latest("player_wealth", order).alias("wealth"),
        _latest("player_health", order).alias("health"),
    )
    # The latest snapshot's items and orgs live in the child tables, keyed by its event id.
    items = inventory.groupBy("event_id").agg(
        F.count("*").alias("inventory_items"),
        F.sum(F.coalesce(F.col("quantity"), F.lit(1))).cast("long").alias("inventory_quantity"),
    )
    orgs = affiliations.groupBy("event_id").agg(F.array_sort(F.collect_set("org")).alias("orgs"))
    latest = F.col("_latest_event_id")
    profile = (
        per_user.join(items, latest == items["event_id"], "left")
        .drop("event_id")
        .join(orgs, latest == orgs["event_id"], "left")
        .drop("event_id")
    )
    empty_orgs = empty_array()
    return profile.select(
        "user_id",
        "wealth",
        "health",
        F.coalesce("inventory_items", F.lit(0)).cast("long").alias("inventory_items"),
        F.coalesce("inventory_quantity", F.lit(0)).cast("long").alias("inventory_quantity"),
        F.coalesce("orgs", empty_orgs).alias("orgs"),
        F.size(F.coalesce("orgs", empty_orgs)).alias("orgs_count"),
        "registered_at",
        "first_seen_at",
        "first_login_at",
        "first_purchase_at",
        "first_org_join_at",
        "last_seen_at",
        _seconds_between(F.col("first_seen_at"), F.col("last_seen_at")).alias("time_played_s"),
        "api_calls",
        "purchases",
        "org_joins",
        F.col("_latest_event_id").alias("latest_event_id"),
    )


# --- rooms (seed 000) ----------------------------------------------------------------------------


def room_stats(game_room: DataFrame, player_activity: DataFrame) -> DataFrame:
    """One row per room (created, or only seen in activity): its type, creator, and the
    players, events and points scored in it."""
    rooms = game_room.groupBy("room_id").agg(
        *[
            _latest(c, F.struct("event_ts", "event_id")).alias(c)
            for c in ("room_name", "room_mode", "room_tier", "created_at", "creator_player_id")
        ]
    )
    activity = player_activity.groupBy("room_id").agg(
        F.count("*").alias("activity_events"),
        F.countDistinct("player_id").alias("unique_players"),
        F.sum("points").cast("long").alias("total_points"),
        F.avg("points").alias("avg_points"),
        F.max("points").alias("max_points"),
        F.min("points").alias("min_points"),
        F.min("activity_at").alias("first_activity_at"),
        F.max("activity_at").alias("last_activity_at"),
    )
    joined = rooms.join(activity, "room_id", "full_outer")
    return joined.select(
        "room_id",
        "room_name",
        "room_mode",
        "room_tier",
        "created_at",
        "creator_player_id",
        F.coalesce("activity_events", F.lit(0)).cast("long").alias("activity_events"),
        F.coalesce("unique_players", F.lit(0)).cast("long").alias("unique_players"),
        F.coalesce("total_points", F.lit(0)).cast("long").alias("total_points"),
        "avg_points",
        "max_points",
        "min_points",
        "first_activity_at",
        "last_activity_at",
    )


# --- purchases (seed 002) ------------------------------------------------------------------------


def purchase_facts(transaction: DataFrame) -> DataFrame:
    """One row per store transaction (purchase or refund), money exact, refunds negative in
    `signed_amount`."""
    return transaction.select(
        "transaction_id",
        "event_id",
        "user_id",
        "platform",
        F.col("transaction_type"),
        "item_id",
        "item_type",
        "currency",
        "amount",
        F.when(F.col("transaction_type") == "refund", -F.col("amount"))
        .otherwise(F.col("amount"))
        .alias("signed_amount"),
        "event_at",
        F.to_date("event_at").alias("event_date"),
    )


# --- level / map funnel (seed 002) ---------------------------------------------------------------


def level_funnel(player_action: DataFrame) -> DataFrame:
    """Per level and map: sessions and players that played it, sessions that completed it,
    and sessions stuck there (their last event is at this level, with no level_complete)."""
    per_level = player_action.groupBy("session_id", "level_id", "map_id").agg(
        F.first("player_id").alias("player_id"),
        F.count("*").alias("events"),
        F.max((F.col("event_type") == "level_complete").cast("int")).alias("completed"),
    )
    last = player_action.groupBy("session_id").agg(
        F.max_by(F.struct("level_id", "map_id"), F.struct("event_at", "level_id")).alias("_last")
    )
    last = last.select(
        "session_id",
        F.col("_last.level_id").alias("level_id"),
        F.col("_last.map_id").alias("map_id"),
        F.lit(1).alias("is_last"),
    )
    flagged = per_level.join(last, ["session_id", "level_id", "map_id"], "left")
    stuck = (F.col("is_last") == 1) & (F.col("completed") == 0)
    return flagged.groupBy("level_id", "map_id").agg(
        F.count("*").alias("sessions"),
        F.countDistinct("player_id").alias("players"),
        F.sum("events").cast("long").alias("events"),
        F.sum("completed").cast("long").alias("completed_sessions"),
        F.count(F.when(stuck, 1)).alias("stuck_sessions"),
    )


# --- daily active players ------------------------------------------------------------------------


def player_key(col: str, numeric: bool) -> Column:
    """A player's id in one spelling: seed 000 families use numbers (1001), the others
    "player_1001"; gold uses the latter."""
    return F.concat(F.lit("player_"), F.col(col).cast("string")) if numeric else F.col(col)


# (silver table, id column, numeric id?, event time column) of every family naming a player.
PLAYER_EVENTS: tuple[tuple[str, str, bool], ...] = (
    ("player_activity", "player_id", True),
    ("telemetry", "player_id", False),
    ("player_action", "player_id", False),
    ("transaction", "user_id", False),
    ("game_api", "user_id", False),
    ("user_score", "user_id", False),
)


def daily_active_players(frames: Mapping[str, DataFrame]) -> DataFrame:
    """Per UTC day: distinct players seen in any family, and their events."""
    parts = [
        frames[table].select(
            player_key(col, numeric).alias("player_key"),
            F.to_date("event_ts").alias("activity_date"),
        )
        for table, col, numeric in PLAYER_EVENTS
        if table in frames
    ]
    union = parts[0]
    for p in parts[1:]:
        union = union.unionByName(p)
    return union.groupBy("activity_date").agg(
        F.countDistinct("player_key").alias("active_players"),
        F.count("*").alias("events"),
    )


# --- sessions (classic game analytics) -----------------------------------------------------------


def user_sessions(user_score: DataFrame, gap_s: int = SESSION_GAP_S) -> DataFrame:
    """One row per gap-based session of a user's scores: a new session starts when the
    previous score is more than `gap_s` seconds earlier. Length is first to last event."""
    by_user = Window.partitionBy("user_id").orderBy("event_at", "event_id")
    previous = F.lag("event_at").over(by_user)
    starts = user_score.withColumn(
        "_new",
        F.when(
            previous.isNull()
            | ((F.unix_millis("event_at") - F.unix_millis(previous)) > gap_s * 1000),
            1,
        ).otherwise(0),
    )
    numbered = starts.withColumn("session_no", F.sum("_new").over(by_user))
    return numbered.groupBy("user_id", "session_no").agg(
        F.first("team_id").alias("team_id"),
        F.min("event_at").alias("session_start"),
        F.max("event_at").alias("session_end"),
        F.count("*").alias("events"),
        F.sum("score").cast("long").alias("total_score"),
        _seconds_between(F.min("event_at"), F.max("event_at")).alias("length_s"),
    )


# --- registry ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Builder:
    """A batch gold table: the silver tables it reads and how it is made of them."""

    table: str
    inputs: tuple[str, ...]
    build: Callable[[Mapping[str, DataFrame]], DataFrame]
    doc: str
    # False: build from whichever inputs exist (a union); True: skip unless all exist.
    needs_all: bool = True


BUILDERS: dict[str, Builder] = {
    b.table: b
    for b in (
        Builder(
            "player_profile",
            ("game_api", "player_inventory", "player_affiliations"),
            lambda f: player_profile(
                f["game_api"], f["player_inventory"], f["player_affiliations"]
            ),
            "player state and milestones per Game API user (seed 003)",
        ),
        Builder(
            "room_stats",
            ("game_room", "player_activity"),
            lambda f: room_stats(f["game_room"], f["player_activity"]),
            "per room: type, creator, players and points (seed 000)",
        ),
        Builder(
            "purchase_facts",
            ("transaction",),
            lambda f: purchase_facts(f["transaction"]),
            "store purchases and refunds (seed 002)",
        ),
        Builder(
            "level_funnel",
            ("player_action",),
            lambda f: level_funnel(f["player_action"]),
            "sessions per level/map, completed and stuck (seed 002)",
        ),
        Builder(
            "daily_active_players",
            tuple(t for t, _, _ in PLAYER_EVENTS),
            daily_active_players,
            "distinct players per day over every family",
            needs_all=False,
        ),
        Builder(
            "user_sessions",
            ("user_score",),
            lambda f: user_sessions(f["user_score"]),
            "gap-based (5 min) sessions of user scores (classic)",
        ),
    )
}


def write_atomic(df: DataFrame, path: Path, user_metadata: str | None = None) -> None:
    """Replace a Delta table's content in one commit (readers see old or new, never half),
    with `user_metadata` in its commitInfo when given."""
    writer = (
        df.write.format("delta")
        .mode("overwrite")
        # A rebuilt table may have new columns; the rebuild defines the schema.
        .option("overwriteSchema", "true")
    )
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(str(path))


def publish(df: DataFrame, path: Path, what: str, since: int) -> int:
    """Write `df` as the table's new content (`write_atomic`); the Delta version it became
    (`since`: the table's next version, read before the rebuild began).

    A concurrent compaction (`gamelake maintain optimize`, which the streams run beside)
    makes Delta refuse the overwrite; the rows are the same whatever the table's files, so it
    is written again on the new snapshot rather than failing the rebuild, and the pipeline
    that runs it.
    """
    # The commit names itself, so its version is read from the log afterwards: another
    # commit may land first without conflicting (a vacuum's log-only START and END).
    tag = json.dumps({"gamelake.publish": uuid.uuid4().hex})
    with_conflict_retry(functools.partial(write_atomic, df, path, tag), what)
    version = tagged_version(path, tag, since)
    if version is None:  # only if log clean-up removed a commit made a moment ago
        log.warning("%s: its commit is not in the log any more; taking the newest", what)
        return _next_version(path) - 1
    return version


def _rows_written(spark: SparkSession, path: Path) -> int:
    """Rows the table's last commit wrote, from the Delta log (no second scan of the data)."""
    from delta.tables import DeltaTable

    last = DeltaTable.forPath(spark, str(path)).history(1).collect()[0]
    rows = int((last["operationMetrics"] or {}).get("numOutputRows", 0))
    # Some plans (a plain projection of silver) leave the metric at 0: count those instead.
    return rows or spark.read.format("delta").load(str(path)).count()


def _next_version(path: Path) -> int:
    """The Delta version the table's next commit creates (0 for a new table).

    Read from the commit files' names: Delta keeps the newest commit's file through log
    clean-up, and DeltaTable.history costs a Spark job (~1 s per table here).
    """
    versions = commit_versions(path)
    return versions[-1] + 1 if versions else 0


def _refused(
    spark: SparkSession, gate: TableGate, name: str, df: DataFrame, version: int
) -> GateFailed | None:
    """Why the gate refuses gold table `name` (as `df`, to become Delta `version`)
    publication, or None if it passes."""
    try:
        gate.check(spark, f"{GOLD_LAYER}.{name}", df, version)
    except GateFailed as failed:
        log.error("gold.%s held back, the published version stays: %s", name, failed)
        return failed
    return None


def _rebuild_one(
    spark: SparkSession,
    lake: Path,
    name: str,
    gate: TableGate | None,
    written: dict[str, int | None],
) -> GateFailed | None:
    """Rebuild gold table `name` unless its gate refuses it (then why); sets written[name]."""
    builder = BUILDERS[name]
    present = {t: table_path(lake, "silver", t) for t in builder.inputs}
    present = {t: p for t, p in present.items() if is_delta_table(p)}
    if not present or (builder.needs_all and len(present) < len(builder.inputs)):
        missing = sorted(set(builder.inputs) - set(present))
        log.warning("gold.%s skipped: silver %s not there yet", name, ", ".join(missing))
        written[name] = None
        return None
    started = time.monotonic()
    frames = {t: spark.read.format("delta").load(str(p)) for t, p in present.items()}
    path = table_path(lake, GOLD_LAYER, name)
    df = builder.build(frames)
    if gate is not None:
        df = df.persist()  # the checks and the write read the same rows, computed once
    try:
        version = _next_version(path)
        failed = _refused(spark, gate, name, df, version) if gate is not None else None
        if failed is None:
            published = publish(df, path, f"gold.{name} rebuild", since=version)
            if gate is not None and published != version:  # a concurrent commit came first
                gate.published(f"{GOLD_LAYER}.{name}", published)
    finally:
        df.unpersist()
    if failed is not None:
        return failed
    rows = _rows_written(spark, path)
    written[name] = rows
    log.info("gold.%s rebuilt: %d rows in %.1fs", name, rows, time.monotonic() - started)
    return None


def rebuild(
    spark: SparkSession,
    lake: Path,
    names: Iterable[str] | None = None,
    gate: TableGate | None = None,
) -> dict[str, int | None]:
    """Rebuild the named batch gold tables (default: all) from the lake's silver.

    Returns rows written per table; None for a table skipped because its silver input
    does not exist yet. Raises KeyError for an unknown name, and GateFailed after the
    other tables when `gate` held some back (its `written` holds what was rebuilt).
    """
    chosen = list(names) if names else list(BUILDERS)
    unknown = [n for n in chosen if n not in BUILDERS]
    if unknown:
        raise KeyError(f"unknown gold tables {unknown}; known: {', '.join(BUILDERS)}")
    written: dict[str, int | None] = {}
    held: list[GateFailed] = []
    try:
        for name in chosen:
            failed = _rebuild_one(spark, lake, name, gate, written)
            if failed is not None:
                held.append(failed)
    finally:
        if gate is not None:
            gate.record(spark)  # the checks of the published and held-back tables, at once
    if held:
        failed = GateFailed(
            [f for h in held for f in h.failures],
            ", ".join(h.where for h in held) + " (not published)",
            fix="fix the data or relax the rule in conf/rules, then rebuild: the tables held "
            "back keep their published version until they pass",
        )
        failed.written = written
        raise failed
    return written

"""Streaming gold: windowed aggregates and the enriched activity, kept current from silver.

Each table is one Structured Streaming query reading a silver Delta table as a stream, with
no state of its own:

- `player_kd_5m` (seed 001): kills, deaths, K/D per player per 5-minute tumbling window.
- `user_score_10s` (seed 004, classic): score and events per user per 10-second window; the
  leaderboards, hot streakers, team MVPs and abuse detection are SQL over it (sql/views,
  sql/queries).
- `team_score_1h`: score, events and players per team per hour, for the hourly team scores;
  written by the `user_score_10s` query from its own partials (`GoldStream.derived`).
- `server_health_1m` (seed 002): server health per region per minute.
- `player_activity_enriched` (seed 000): activity joined with the rooms and players known
  when the micro-batch runs (stream-static join); final, so appended.

A windowed table is kept as `<table>_partials` (`gamelake.gold.windows`): each micro-batch
appends its own partial aggregates, a plain append instead of a MERGE, and every so often a
batch's commit rolls the closed windows up into one row each. Trino's `gold.<table>` is a
view summing the open windows' partials beside the rolled-up rows. A window closes an hour
after the newest window seen; an event later than that is merged into its rolled-up row, so
no event is dropped (a backfill reads Kafka out of event-time order). Every gold commit names
its (app id, batch id) in `commitInfo.userMetadata` and a `ledger.BatchLedger` per query says
which batches a table already holds, so a replayed batch is never counted twice, without
Delta's `txnAppId` check (a snapshot state rebuild on every commit, see docs/hot-path.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from gamelake.conventions import is_delta_table, table_path
from gamelake.gold import GOLD_LAYER
from gamelake.gold.windows import (
    PLAYER_KD_5M,
    ROLLED_UP,
    SERVER_HEALTH_1M,
    TEAM_SCORE_1H,
    UPDATED_AT,
    USER_SCORE_10S,
    WindowedAggregate,
    merge_partials,
    partial_aggregates,
    view_sql,
    windowed_answer,
)
from gamelake.io import read_delta_stream, trigger_kwargs
from gamelake.ledger import BatchLedger, append_batch, batch_tag
from gamelake.ops.retry import with_conflict_retry
from gamelake.queries import View
from gamelake.spark import local_checkpoint, release

log = logging.getLogger(__name__)

OPTIMIZE_WRITE_CONF = "spark.databricks.delta.optimizeWrite.enabled"
# Off for gold queries: with no state to evict, a batch with no data has nothing to do, and
# would still cost a micro-batch per query on a 2-core laptop.
NO_DATA_BATCHES_CONF = "spark.sql.streaming.noDataMicroBatches.enabled"


# --- transforms (pure; streaming or batch frames alike) ----------------------------------------


def kd_per_window(telemetry: DataFrame) -> DataFrame:
    """Kills, deaths and K/D ratio (null without deaths) per player per 5-minute window."""
    return windowed_answer(telemetry, PLAYER_KD_5M)


def score_per_window(user_score: DataFrame) -> DataFrame:
    """Score sum and events per user (and team) per 10-second window."""
    return windowed_answer(user_score, USER_SCORE_10S)


def server_health_per_window(server_metric: DataFrame) -> DataFrame:
    """Per region per minute: samples, servers, CPU, memory and latency (avg and max), and
    samples above 90% CPU."""
    return windowed_answer(server_metric, SERVER_HEALTH_1M)


def _one_per_key(df: DataFrame, key: str, columns: list[str]) -> DataFrame:
    """The latest row per key, so a join on it never multiplies rows."""
    order = F.struct("event_ts", "event_id")
    return df.groupBy(key).agg(*[F.max_by(c, order).alias(c) for c in columns])


def _keys_of(dim: DataFrame, activity: DataFrame, key: str) -> DataFrame:
    """The dimension's rows whose key the activity has (no other row can join)."""
    return dim.join(F.broadcast(activity.select(key).distinct()), key, "left_semi")


def enrich_activity(activity: DataFrame, rooms: DataFrame, players: DataFrame) -> DataFrame:
    """Player activity with its room (name, mode, tier, created) and player (name hash,
    masked ip); left joins, as seed 000's enriched view."""
    # The whole dimensions are read per micro-batch: narrowed to the batch's keys before the
    # latest-row aggregation, enriching 1,000 rows took 1.3 s with 330k rooms and 250k
    # players in silver and 2.1 s with 1.2M and 900k, instead of 2.3 s and 10 s (0.4 s more
    # with 10k rooms: two small jobs for the keys).
    room_dim = _one_per_key(
        _keys_of(rooms, activity, "room_id"),
        "room_id",
        ["room_name", "room_mode", "room_tier", "created_at"],
    ).withColumnRenamed("created_at", "room_created_at")
    player_dim = _one_per_key(
        _keys_of(players, activity, "player_id"), "player_id", ["player_name", "ip"]
    )
    return (
        activity.join(F.broadcast(room_dim), "room_id", "left")
        .join(F.broadcast(player_dim), "player_id", "left")
        .select(
            "event_id",
            "player_id",
            "player_name",
            "ip",
            "room_id",
            "room_name",
            "room_mode",
            "room_tier",
            "room_created_at",
            "points",
            "coord_x",
            "coord_y",
            "activity_at",
            F.to_date("activity_at").alias("activity_date"),
            "ingested_at",
        )
    )


# --- sinks ---------------------------------------------------------------------------------------


def _session_optimize_write(df: DataFrame) -> bool:
    """Whether the session asks for Delta's optimized write (what a plain append would do)."""
    return df.sparkSession.conf.get(OPTIMIZE_WRITE_CONF, "false").lower() == "true"


@dataclasses.dataclass
class _Windows:
    """What a windowed table's writer knows of it, in epoch microseconds of `window_end`:
    windows up to `rolled_until` are rolled up, the newest window seen ends at `seen_until`,
    and no open partial ends before `open_from` (None: not known yet, or nothing)."""

    rolled_until: int | None
    seen_until: int | None
    open_from: int | None


def _micros(column: str) -> Column:
    return F.unix_micros(F.col(column))


def _read_windows(spark: SparkSession, path: Path) -> _Windows:
    """The table's rolled-up boundary, newest window and oldest open window (one small job)."""
    if not is_delta_table(path):
        return _Windows(None, None, None)
    rolled = F.col(ROLLED_UP)
    row = (
        spark.read.format("delta").load(str(path))
        .agg(
            F.max(F.when(rolled, _micros("window_end"))),
            F.max(_micros("window_end")),
            F.min(F.when(~rolled, _micros("window_end"))),
        )
        .first()
    )  # fmt: skip
    return _Windows(*row)


class WindowedSink:
    """Writes a windowed aggregate's micro-batches into its partials table, at most once per
    (app id, batch id), one commit each.

    A batch normally appends its partials. Once the oldest open window has been closed for
    `rollup_every_s` (closed: ending `late_s` or more before the newest window seen), the
    batch is written instead as a commit that merges every open partial: closed windows as one
    rolled-up row each, the others as one open row each. A batch with rows for windows already
    rolled up (events later than `late_s`, or a backfill reading Kafka out of event-time
    order) merges them into those rows the same way, so no event is dropped; such a commit
    rewrites the rolled-up rows from the oldest late window on.
    """

    def __init__(
        self,
        path: Path,
        agg: WindowedAggregate,
        app_id: str,
        born_ms: int | None = None,
        *,
        late_s: int = 3600,
        rollup_every_s: int = 900,
    ) -> None:
        self.path, self.agg, self.app_id = path, agg, app_id
        self.late_us, self.rollup_every_us = late_s * 1_000_000, rollup_every_s * 1_000_000
        self.ledger = BatchLedger(born_ms)
        self.windows: _Windows | None = None  # read from the table on the first batch

    def partials(self, batch: DataFrame) -> DataFrame:
        """The batch's partials as this table stores them, computed now (`release` them)."""
        parts = partial_aggregates(batch, self.agg).withColumn(UPDATED_AT, F.current_timestamp())
        return local_checkpoint(parts.withColumn(ROLLED_UP, F.lit(False)))

    def holds(self, batch_id: int) -> bool:
        """True when the table already holds the batch (logged: the batch is skipped)."""
        if not self.ledger.holds(self.path, self.app_id, batch_id):
            return False
        log.info("%s already holds batch %d of %s: skipped", self.path.name, batch_id,
                 self.app_id)  # fmt: skip
        return True

    def write(self, batch: DataFrame, batch_id: int) -> bool:
        """Write one micro-batch of source rows; True when the table took it."""
        if self.holds(batch_id):
            return False
        parts = self.partials(batch)
        try:
            return self.write_partials(parts, batch_id)
        finally:
            release(parts)

    def write_partials(self, parts: DataFrame, batch_id: int) -> bool:
        """Write a micro-batch's `partials`; True when the table took it."""
        if self.holds(batch_id):
            return False
        if self.windows is None:
            self.windows = _read_windows(parts.sparkSession, self.path)
        return self._write_parts(parts, batch_id, self.windows)

    def rebuild_from(self, spark: SparkSession, source: WindowedSink) -> bool:
        """Build this table, when it does not exist, from every row of `source`'s table (this
        aggregate is declared over the source's stored columns); True when built.

        The commit is tagged with the last batch `source` holds, so the batches this table
        then writes are exactly those `source` does not hold yet. Windows already closed are
        written rolled up, as a roll-up would leave them.
        """
        if is_delta_table(self.path) or not is_delta_table(source.path):
            return False
        stored = spark.read.format("delta").load(str(source.path))
        last = source.ledger.last(source.path, source.app_id)
        parts = self.partials(stored)
        try:
            newest = parts.agg(F.max(_micros("window_end"))).first()[0]
            closed = F.lit(False)
            if newest is not None:
                closed = _micros("window_end") <= newest - self.late_us
            rows = parts.withColumn(ROLLED_UP, closed)  # replaces the partials' "open"
            append_batch(rows, self.path, (ROLLED_UP,), self.app_id, last, self.ledger)
        finally:
            release(parts)
        log.info("%s built from %s up to its batch %d of %s", self.path.name, source.path.name,
                 last, self.app_id)  # fmt: skip
        self.windows = None
        return True

    def _write_parts(self, parts: DataFrame, batch_id: int, known: _Windows) -> bool:
        end = _micros("window_end")
        rolled_until = known.rolled_until
        late = end <= F.lit(rolled_until) if rolled_until is not None else F.lit(False)
        rows, newest, late_from, oldest_open = parts.agg(
            F.count(F.lit(1)), F.max(end), F.min(F.when(late, end)), F.min(F.when(~late, end))
        ).first()
        if not rows:
            return False  # no commit for an empty batch
        seen = max(v for v in (known.seen_until, newest) if v is not None)
        open_from = min((v for v in (known.open_from, oldest_open) if v is not None), default=None)
        closed = seen - self.late_us
        due = open_from is not None and closed - open_from >= self.rollup_every_us
        if late_from is None and not due:
            append_batch(parts, self.path, (ROLLED_UP,), self.app_id, batch_id, self.ledger,
                         optimize_write=_session_optimize_write(parts))  # fmt: skip
            self.windows = _Windows(rolled_until, seen, open_from)
            return True
        if late_from is not None:
            log.info("%s batch %d: partials for rolled-up windows from %s merged into them",
                     self.path.name, batch_id, _iso(late_from))  # fmt: skip
        if due:
            # Open partials left all end after the new boundary: the next roll-up is due
            # `rollup_every_s` of event time later.
            rolled_until = max(closed, rolled_until or closed)
            open_from = rolled_until
        # A concurrent compaction (`gamelake maintain optimize`) of the rows this commit
        # replaces wins against it, and Delta refuses the commit. Compaction changes no row,
        # so the same merge runs again on the new snapshot rather than stopping the stream.
        merge = functools.partial(
            self._merge, parts, batch_id, known.rolled_until, late_from, rolled_until
        )
        with_conflict_retry(merge, f"{self.path.name} batch {batch_id}")
        if due:
            log.info("%s batch %d: windows ending by %s rolled up", self.path.name, batch_id,
                     _iso(rolled_until))  # fmt: skip
        self.windows = _Windows(rolled_until, seen, open_from)
        return True

    def _merge(
        self,
        parts: DataFrame,
        batch_id: int,
        rolled_until: int | None,
        late_from: int | None,
        rolled_now: int | None,
    ) -> None:
        """Commit the batch with every open partial, and the rolled-up rows from `late_from`
        on, merged: windows ending by `rolled_now` as one rolled-up row each, later ones as
        one open row each (one Delta commit)."""
        spark = parts.sparkSession
        # The rows this commit replaces: every open partial, and the rolled-up windows the
        # batch's late rows fall in onwards. Delta checks every written row matches too.
        replaced = None
        if rolled_until is not None:
            since = late_from if late_from is not None else rolled_until + 1
            replaced = f"not {ROLLED_UP} or window_end >= timestamp_micros({since})"
        partials = parts.drop(ROLLED_UP)
        if is_delta_table(self.path):
            stored = spark.read.format("delta").load(str(self.path))
            stored = stored.where(replaced) if replaced else stored
            partials = stored.drop(ROLLED_UP).unionByName(partials)
        is_rolled = F.lit(False)
        if rolled_now is not None:
            is_rolled = _micros("window_end") <= F.lit(rolled_now)
        merged = (
            merge_partials(partials, self.agg)
            .withColumn(ROLLED_UP, is_rolled)
            # Files by event time: a late row rewrites only the files from its window on, and
            # a reader's window filter skips the rest by their statistics.
            .repartitionByRange(ROLLED_UP, "window_end")
        )  # fmt: skip
        writer = (
            merged.write.format("delta")
            .mode("overwrite")
            .partitionBy(ROLLED_UP)
            .option("userMetadata", batch_tag(self.app_id, batch_id))
        )
        if replaced:
            writer = writer.option("replaceWhere", replaced)
        writer.save(str(self.path))
        self.ledger.committed(self.path, self.app_id, batch_id)


def _iso(micros: int) -> str:
    return dt.datetime.fromtimestamp(micros / 1e6, dt.UTC).isoformat()


def _windowed_handler(
    batch: DataFrame, batch_id: int, *, sink: WindowedSink, derived: Sequence[WindowedSink]
) -> None:
    if sink.holds(batch_id) and all(t.holds(batch_id) for t in derived):
        return
    parts = sink.partials(batch)
    try:
        sink.write_partials(parts, batch_id)
        for table in derived:
            table.write(parts, batch_id)
    finally:
        release(parts)


def make_windowed_handler(
    spark: SparkSession,
    path: Path,
    agg: WindowedAggregate,
    app_id: str,
    born_ms: int | None = None,
    derived: Sequence[tuple[Path, WindowedAggregate]] = (),
    **rollup,
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch handler writing a windowed aggregate's partials into `path`, then the
    `derived` aggregates' (path, aggregate over `agg`'s partials) from them (app made at
    `born_ms`; `rollup`: WindowedSink's late_s and rollup_every_s).

    A derived table that does not exist is built now from `path`'s table, before any batch:
    so a lake at rest gets it too, and it holds exactly the batches that table holds.
    """
    sink = WindowedSink(path, agg, app_id, born_ms, **rollup)
    tables = [WindowedSink(p, a, app_id, born_ms, **rollup) for p, a in derived]
    for table in tables:
        table.rebuild_from(spark, sink)
    return functools.partial(_windowed_handler, sink=sink, derived=tables)


def _dimensions(spark: SparkSession, lake: Path) -> tuple[DataFrame, DataFrame]:
    """The rooms and players of silver as they are now (empty frames before their tables)."""
    dims = {}
    for table in ("game_room", "player"):
        path = table_path(lake, "silver", table)
        # Read per batch: the dimension as it is now, so rooms created since are found.
        dims[table] = spark.read.format("delta").load(str(path)) if is_delta_table(path) else None
    rooms = dims["game_room"]
    if rooms is None:
        rooms = spark.createDataFrame(
            [], "room_id bigint, room_name string, room_mode string, room_tier string, "
            "created_at timestamp, event_ts timestamp, event_id string",
        )  # fmt: skip
    players = dims["player"]
    if players is None:
        players = spark.createDataFrame(
            [], "player_id bigint, player_name string, ip string, event_ts timestamp, "
            "event_id string",
        )  # fmt: skip
    return rooms, players


def _enrich_handler(
    batch: DataFrame, batch_id: int, *, lake: Path, app_id: str, ledger: BatchLedger
) -> None:
    out = enrich_activity(batch, *_dimensions(batch.sparkSession, lake))
    target = table_path(lake, GOLD_LAYER, "player_activity_enriched")
    append_batch(
        out, target, (), app_id, batch_id, ledger, optimize_write=_session_optimize_write(out)
    )


def make_enrich_handler(
    lake: Path, app_id: str, born_ms: int | None = None
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch handler appending enriched activity (once per batch id), with a ledger
    of the batches it holds (app made at `born_ms`)."""
    return functools.partial(_enrich_handler, lake=lake, app_id=app_id, ledger=BatchLedger(born_ms))


# --- stages --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GoldStream:
    """A streaming gold table: its silver source, its windowed aggregate (None: the enriched
    activity, appended as final rows), and coarser aggregates over that one's partials that
    the same query writes (no second read of silver)."""

    table: str
    source: str
    windowed: WindowedAggregate | None
    doc: str
    derived: tuple[WindowedAggregate, ...] = ()

    @property
    def storage(self) -> str:
        """The Delta table the stream writes (a windowed table's partials; Trino's
        gold.<table> is then a view over it)."""
        return self.windowed.storage if self.windowed else self.table


GOLD_STREAMS: dict[str, GoldStream] = {
    s.table: s
    for s in (
        GoldStream("player_kd_5m", "telemetry", PLAYER_KD_5M,
                   "K/D per player per 5 minutes (seed 001)"),
        GoldStream("user_score_10s", "user_score", USER_SCORE_10S,
                   "score per user per 10 s; leaderboards build on it (004, classic); "
                   "team_score_1h, per team per hour, from it", (TEAM_SCORE_1H,)),
        GoldStream("server_health_1m", "server_metric", SERVER_HEALTH_1M,
                   "server health per region per minute (seed 002)"),
        GoldStream("player_activity_enriched", "player_activity", None,
                   "activity joined with rooms and players (seed 000)"),
    )
}  # fmt: skip


def gold_views(schema: str = GOLD_LAYER) -> list[View]:
    """The Trino views answering the windowed tables from their partials."""
    return [View(schema, agg.table, view_sql(agg, schema)) for agg in windowed_tables().values()]


def windowed_tables() -> dict[str, WindowedAggregate]:
    """Every windowed gold table the streams write, by table name (derived ones included)."""
    return {
        agg.table: agg
        for s in GOLD_STREAMS.values()
        if s.windowed
        for agg in (s.windowed, *s.derived)
    }


def start_gold_stream(
    spark: SparkSession,
    stream: GoldStream,
    lake: Path,
    checkpoint: Path,
    app_id: str,
    once: bool,
    interval: str,
    max_files_per_trigger: int | None = None,
    max_bytes_per_trigger: str | None = None,
    born_ms: int | None = None,
) -> StreamingQuery:
    """Start one streaming gold table from its silver source; its app id was made at
    `born_ms` (no commit of it is older)."""
    source = read_delta_stream(
        spark,
        table_path(lake, "silver", stream.source),
        max_files_per_trigger,
        max_bytes_per_trigger,
    )
    if stream.windowed is None:
        handler = make_enrich_handler(lake, app_id, born_ms)
    else:
        target = table_path(lake, GOLD_LAYER, stream.storage)
        derived = [(table_path(lake, GOLD_LAYER, a.storage), a) for a in stream.derived]
        handler = make_windowed_handler(spark, target, stream.windowed, app_id, born_ms, derived)
    # Stateless: each batch's rows go to its handler as they are (no state store).
    return (
        source.writeStream.foreachBatch(handler)
        .outputMode("append")
        .option("checkpointLocation", str(checkpoint))
        .queryName(f"gold_{stream.table}")
        .trigger(**trigger_kwargs(once, interval))
        .start()
    )


def ready_streams(lake: Path, running: Mapping[str, object]) -> list[GoldStream]:
    """Gold streams not yet running whose silver source exists (a Delta stream needs one)."""
    return [
        s
        for name, s in GOLD_STREAMS.items()
        if name not in running and is_delta_table(table_path(lake, "silver", s.source))
    ]

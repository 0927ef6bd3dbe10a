"""The streaming stages (bronze, silver) wired from sources, transforms and sinks.

Jobs call `start_bronze` / `start_silver`; the silver micro-batch handler is built by
`make_silver_batch_handler`, a named top-level function idempotent per batch id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from gamelake import lakefs
from gamelake.bronze import to_bronze
from gamelake.contracts import Contract
from gamelake.conventions import table_path
from gamelake.dq.gate import SilverGate
from gamelake.dq.results import RESULTS_TABLE, new_run_id, results_frame, results_txn_app_id
from gamelake.dq.suite import warm_up_in_background
from gamelake.io import (
    for_each_batch,
    read_delta_stream,
    read_kafka_stream,
    write_delta_stream,
)
from gamelake.ledger import BatchLedger, append_batch
from gamelake.progress import PROGRESS_TABLE, progress_frame
from gamelake.secrets import SecretPolicy
from gamelake.silver import (
    DEDUP_KEY,
    QUARANTINE_PARTITION_BY,
    QUARANTINE_STATS_COLUMNS,
    QUARANTINE_TABLE,
    is_valid,
    parse_family,
    partition_columns,
    scratch_columns,
    stamp_quarantine,
    stats_properties,
    table_properties,
    to_quarantine,
    to_tables,
    unknown_family_quarantine,
    with_event_id,
)
from gamelake.spark import local_checkpoint, release, session_conf

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    once: bool
    interval: str = "10 seconds"
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    max_files_per_trigger: int | None = None
    max_bytes_per_trigger: str | None = None
    dedup_watermark: str = "1 hour"


APP_ID_MARKER = "gamelake_app_id"


def checkpoint_app_id(checkpoint: Path, stage: str) -> str:
    """The app id of a checkpoint's writes: batch ids restart with a new checkpoint, so must it."""
    lakefs.mkdirs(checkpoint)
    marker = checkpoint / APP_ID_MARKER
    # Read back, not returned: a marker already there (a restart) keeps its id.
    lakefs.create_if_absent(marker, f"gamelake.{stage}.{uuid.uuid4().hex}\n")
    return lakefs.read_text(marker).strip()


def app_born_ms(checkpoint: Path) -> int | None:
    """When the checkpoint's app id was made (ms since the epoch): no commit of the app is
    older. None when the checkpoint has none yet."""
    return lakefs.mtime_ms(checkpoint / APP_ID_MARKER)


def start_bronze(
    spark: SparkSession,
    bootstrap_servers: str,
    topic_pattern: str,
    topic_prefix: str,
    secrets: SecretPolicy,
    target: Path,
    partition_by: tuple[str, ...],
    checkpoint: Path,
    options: StreamOptions,
) -> StreamingQuery:
    """Kafka -> bronze: every record as produced, secrets redacted."""
    source = read_kafka_stream(
        spark,
        bootstrap_servers,
        topic_pattern,
        options.starting_offsets,
        options.max_offsets_per_trigger,
    )
    return write_delta_stream(
        to_bronze(source, topic_prefix, secrets),
        target,
        checkpoint,
        partition_by,
        query_name=f"bronze_{target.name}",
        once=options.once,
        interval=options.interval,
    )


def silver_input(bronze: DataFrame, contracts: Mapping[str, Contract], watermark: str) -> DataFrame:
    """Bronze appends with an event id, exact re-sends dropped within the watermark."""
    return (
        with_event_id(bronze, contracts)
        .withWatermark("ingested_at", watermark)
        .dropDuplicatesWithinWatermark(["family", DEDUP_KEY])
    )


def write_silver_batch(
    batch: DataFrame,
    batch_id: int,
    *,
    contracts: Mapping[str, Contract],
    lake: Path,
    app_id: str,
    rejects_family: str,
    gate: SilverGate | None = None,
    ledger: BatchLedger | None = None,
    zorder: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, int]:
    """Split one bronze micro-batch into silver, child and quarantine tables, at most once.

    Every commit carries (app_id, batch_id), and `ledger` (a new one reads the tables' logs)
    knows which tables hold it, so replaying the batch after a crash skips the tables
    already written. A table created here keeps statistics on the columns maintenance
    Z-orders it by (`zorder`, by silver table). Returns rows written per table.
    """
    ledger = ledger if ledger is not None else BatchLedger()
    started = time.monotonic()
    # A batch has a partition per bronze file read; a dozen commits over dozens of tiny
    # partitions cost more in tasks and small files than the rows themselves.
    parallelism = int(batch.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    with contextlib.ExitStack() as scope:
        with session_conf(batch.sparkSession, _CACHE_CONF):
            cached = batch.coalesce(parallelism).persist()
            scope.callback(cached.unpersist)
            # One job says which families the batch holds; absent ones cost nothing.
            per_family = {
                r["family"]: r["count"] for r in cached.groupBy("family").count().collect()
            }
        read_at = time.monotonic()
        if not per_family:
            return {}  # a no-data batch (the watermark moving on): nothing to record
        # Each of the batch's ~30 jobs pays per task: a small batch is read as one partition.
        partitions = partitions_for(sum(per_family.values()), parallelism)
        batch = cached.coalesce(partitions)
        scope.enter_context(session_conf(batch.sparkSession, _handler_conf(partitions)))
        present = [f for f in contracts if f in per_family]
        # Each family in partitions sized to its own rows (see _parse_families).
        family_partitions = {f: partitions_for(per_family[f], partitions) for f in present}
        parsed, counted = _parse_families(batch, family_partitions, contracts, gate)
        for p in parsed.values():
            scope.callback(release, p)
        parsed_at = time.monotonic()
        valid_counts = {f: int(row[VALID] or 0) for f, row in counted.items()}
        with_valid = [f for f in present if valid_counts.get(f, 0)]
        with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
            # Planning the outputs is analysis of their expressions too: side by side.
            planned = pool.map(
                to_tables, [parsed[f] for f in with_valid], [contracts[f] for f in with_valid]
            )
            outputs = dict(zip(with_valid, planned, strict=True))
        writes: list[_TableWrite] = []
        if gate is not None:
            spark = batch.sparkSession
            silver = {f: tables[f] for f, tables in outputs.items()}
            results = gate.judge(spark, parsed, contracts, counted, silver)
            # Before any write: a failed fail-rule raises, the batch stays uncommitted.
            gate.verdict(spark, batch_id, results)
            if results:
                # Recorded with the batch's tables, at most once (same txnAppId scheme).
                writes.append(_TableWrite(
                    results_frame(spark, results, new_run_id(), app_id, batch_id).coalesce(1),
                    table_path(lake, "ops", RESULTS_TABLE), (), results_txn_app_id(app_id),
                ))  # fmt: skip
        written: dict[str, int] = {}
        # Each family's parsed rows are a checkpoint (a leaf), so the union of their rejects
        # reads those rows: it never plans the parse again.
        rejected = [
            to_quarantine(parsed[f]) for f in present if per_family[f] - valid_counts.get(f, 0)
        ]
        for family, tables in outputs.items():
            # A family parsed in one partition writes a file per table partition as it is.
            spread = family_partitions[family] > 1
            for table, out in tables.items():
                contract = contracts[family]
                properties = table_properties(table, contract, zorder)
                writes.append(_TableWrite(
                    out, table_path(lake, "silver", table), partition_columns(table, contract),
                    f"{app_id}.silver.{table}", spread, properties,
                ))  # fmt: skip
            written[f"silver.{family}"] = valid_counts[family]

        unknown = sum(n for f, n in per_family.items() if f not in contracts)
        if unknown:
            rejected.append(unknown_family_quarantine(batch, list(contracts), rejects_family))
        quarantined = sum(per_family.values()) - sum(written.values())
        if rejected:
            # A small batch writes every family's rejects as one file; the stamp, above the
            # coalesce, is one small stage to compile (see stamp_quarantine).
            reject_partitions = partitions_for(quarantined, partitions)
            rows = functools.reduce(DataFrame.unionByName, rejected).coalesce(reject_partitions)
            writes.append(_TableWrite(
                stamp_quarantine(rows),
                table_path(lake, "ops", QUARANTINE_TABLE), QUARANTINE_PARTITION_BY,
                f"{app_id}.ops.{QUARANTINE_TABLE}", reject_partitions > 1,
                stats_properties(QUARANTINE_STATS_COLUMNS),
            ))  # fmt: skip
        written[f"ops.{QUARANTINE_TABLE}"] = quarantined
        judged_at = time.monotonic()
        _write_tables(writes, batch_id, ledger)
        written_at = time.monotonic()

        rows_in = sum(per_family.values())
        duration_ms = _ms(started, written_at)
        _record_progress(
            batch.sparkSession, lake, app_id, "silver", batch_id, rows_in, written, duration_ms,
            ledger,
        )  # fmt: skip
        log.info(
            "silver batch %d: %d rows in, %d to silver, %d quarantined, %d ms "
            "(read+dedup %d, parse+row rules %d, batch rules+quarantine %d, %d writes %d)",
            batch_id, rows_in, rows_in - quarantined, quarantined, duration_ms,
            _ms(started, read_at), _ms(read_at, parsed_at), _ms(parsed_at, judged_at),
            len(writes), _ms(judged_at, written_at),
        )  # fmt: skip
        return written


# The batch's cache lives for one micro-batch, and most of it is the payload, a binary column
# no compression scheme of Spark's cache applies to: judging every column's schemes as the
# cache is built cost more than it saved (docs/hot-path.md, 2026-12-07).
_CACHE_CONF = {"spark.sql.inMemoryColumnarStorage.compressed": "false"}

# Rows a task of the silver handler takes before a batch is split across more partitions.
ROWS_PER_PARTITION = 50_000


def partitions_for(rows: int, most: int) -> int:
    """How many partitions the silver handler reads `rows` rows in: one per
    ROWS_PER_PARTITION rows, at least one and at most `most`."""
    return max(1, min(most, -(-rows // ROWS_PER_PARTITION)))


def _handler_conf(partitions: int) -> dict[str, str]:
    """SQL conf of the silver handler's jobs once the batch is read in `partitions`.

    Adaptive execution re-plans each of the handler's ~30 jobs at every stage boundary:
    driver work a small batch pays in full (1,000 rows: ~6.0 s a batch without it, 6.7-7.3 s
    with it; neutral at 100k rows). Its one gain here, fewer shuffle partitions for little
    data, the handler has already decided: its shuffles get as many partitions as the batch
    is read in. The batch's own stateful dedup is planned before the handler runs, so its
    state layout is untouched.
    """
    return {"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": str(partitions)}


def _ms(since: float, until: float) -> int:
    return int((until - since) * 1000)


# Delta commits are mostly driver-side waiting (log writes, snapshot updates): a few tables
# committing at once keep both cores busy instead of one job at a time.
WRITE_THREADS = 8


@dataclasses.dataclass(frozen=True)
class _TableWrite:
    rows: DataFrame
    path: Path
    partition_by: tuple[str, ...]
    app_id: str
    # Delta's optimized write shuffles rows into well-sized files: a gain only for a frame of
    # several partitions (a 1,000-row batch: 0.3 s instead of 0.5-1.4 s a commit without it).
    optimize_write: bool = False
    # Delta table properties the write creates the table with.
    properties: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _write_tables(writes: list[_TableWrite], batch_id: int, ledger: BatchLedger) -> None:
    """Append each output of a micro-batch to its Delta table, several tables at a time.

    Each write is idempotent per (app_id, batch_id); if one fails the handler raises,
    the batch is not marked done, and its replay skips the tables already committed.
    """
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        futures = [
            pool.submit(
                append_batch,
                w.rows,
                w.path,
                w.partition_by,
                w.app_id,
                batch_id,
                ledger,
                optimize_write=w.optimize_write,
                properties=w.properties,
            )
            for w in writes
        ]
        for future in futures:
            future.result()


VALID = "_valid"


def _parse_families(
    batch: DataFrame,
    family_partitions: Mapping[str, int],
    contracts: Mapping[str, Contract],
    gate: SilverGate | None,
) -> tuple[dict[str, DataFrame], dict[str, Row]]:
    """Per family of the batch (`family_partitions`: the partitions to parse it in): its
    `parse_family` rows (gated, a `local_checkpoint` the caller releases) and a row with
    their valid-row count (VALID) and the gate's row-rule and batch-metric aggregations.

    Each family is planned, checkpointed and counted in a thread of its own. Building a
    family's plan is the analysis of its rules' expressions, driver work of ~0.1-0.5 s per
    family and batch whatever the batch's size (docs/hot-path.md): side by side, one
    family's planning overlaps another's job. A checkpoint rather than a cache: every later
    plan of the batch (counts, outputs, rejects, writes) then starts from a leaf instead of
    the parse's plan, and is not matched against the cache's plans.
    """

    def parse(family: str) -> tuple[DataFrame, Row]:
        contract = contracts[family]
        # The parse's projections hold expressions Spark cannot compile into a whole stage
        # (from_json, the lambdas), so each of its tasks generates their code anew: a family
        # of a few thousand rows is one task, not one per partition of the batch
        # (docs/hot-path.md, 2026-12-07).
        rows = parse_family(batch, contract, family_partitions[family])
        extra: list[Column] = []
        if gate is not None:
            # Failed drop rules join the contract's reasons: to_silver/to_quarantine route them.
            rows = gate.rows(rows, contract)
            extra = gate.count_columns(contract)
        # What is spent once the reasons are known is not worth keeping: the record's text
        # is most of a parsed row (docs/hot-path.md).
        rows = local_checkpoint(rows.drop(*scratch_columns()))
        return rows, rows.agg(_valid_count(), *extra).first()

    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        done = dict(zip(family_partitions, pool.map(parse, family_partitions), strict=True))
    return {f: p for f, (p, _) in done.items()}, {f: row for f, (_, row) in done.items()}


@functools.cache
def _valid_count() -> Column:
    """How many of a family's parsed rows met their contract (VALID)."""
    return F.sum(is_valid().cast("long")).alias(VALID)


def _record_progress(
    spark: SparkSession,
    lake: Path,
    app_id: str,
    stage: str,
    batch_id: int,
    rows_in: int,
    written: Mapping[str, int],
    duration_ms: int,
    ledger: BatchLedger,
) -> None:
    """Append one row per output table of a micro-batch to ops.stream_progress (at most once)."""
    rows = [
        (stage, app_id, batch_id, table, rows_in, count, duration_ms, None)
        for table, count in sorted(written.items())
    ]
    path = table_path(lake, "ops", PROGRESS_TABLE)
    append_batch(
        progress_frame(spark, rows).coalesce(1), path, (), f"{app_id}.ops.{PROGRESS_TABLE}",
        batch_id, ledger, optimize_write=False,
    )  # fmt: skip


def make_silver_batch_handler(
    contracts: Mapping[str, Contract],
    lake: Path,
    app_id: str,
    rejects_family: str,
    gate: SilverGate | None = None,
    born_ms: int | None = None,
    zorder: Mapping[str, Sequence[str]] | None = None,
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch handler of the silver stage, bound to its contracts, lake and app id
    (made at `born_ms`) and the Z-order columns of its tables, with a ledger of the batches
    its tables hold."""
    return functools.partial(
        _silver_handler,
        contracts=dict(contracts),
        lake=lake,
        app_id=app_id,
        rejects_family=rejects_family,
        gate=gate,
        ledger=BatchLedger(born_ms),
        zorder=dict(zorder or {}),
    )


def _silver_handler(batch: DataFrame, batch_id: int, **bound) -> None:
    write_silver_batch(batch, batch_id, **bound)


def start_silver(
    spark: SparkSession,
    contracts: Mapping[str, Contract],
    lake: Path,
    bronze_path: Path,
    checkpoint: Path,
    options: StreamOptions,
    rejects_family: str,
    gate: SilverGate | None = None,
    zorder: Mapping[str, Sequence[str]] | None = None,
) -> StreamingQuery:
    """Bronze -> silver (one table per family, PARTITIONED BY event_type) + quarantine,
    gated by `gate`'s rules when given; `zorder`: the Z-order columns of silver tables."""
    app_id = checkpoint_app_id(checkpoint, "silver")
    if gate is not None:
        # Done while the query starts, unless the job already did it before the session.
        warm_up_in_background([gate.runner])
    source = silver_input(
        read_delta_stream(
            spark, bronze_path, options.max_files_per_trigger, options.max_bytes_per_trigger
        ),
        contracts,
        options.dedup_watermark,
    )
    return for_each_batch(
        source,
        make_silver_batch_handler(
            contracts,
            lake,
            app_id,
            rejects_family,
            gate.bound(app_id) if gate else None,
            app_born_ms(checkpoint),
            zorder,
        ),
        checkpoint,
        query_name="silver",
        once=options.once,
        interval=options.interval,
    )

"""Table maintenance: compaction (OPTIMIZE, optionally Z-ordered) and VACUUM of the lake's Delta
tables, with the settings of gamelake.ops.maintenance_conf, safe beside streams that keep
appending.

OPTIMIZE commits with dataChange=false: it never conflicts with a blind append, stream readers
skip it, and a conflict with another rewrite (auto compaction) is retried on a fresh snapshot.
Every run appends one row per table and operation to ops.maintenance.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from gamelake.conventions import DELTA_LOG, table_path
from gamelake.dq.results import new_run_id
from gamelake.errors import GamelakeError
from gamelake.ops.maintenance_conf import (
    DELTA_MIN_RETENTION_HOURS,
    MaintenanceConf,
    TableMaintenance,
)
from gamelake.ops.retry import DEFAULT_BACKOFF, Backoff, with_conflict_retry

log = logging.getLogger(__name__)

HISTORY_TABLE = "maintenance"
HISTORY_SCHEMA = (
    "run_id string, table_name string, operation string, started_at timestamp, "
    "duration_ms long, attempts int, files_before long, files_after long, "
    "bytes_before long, bytes_after long, params string, metrics string"
)
# Reader features Trino 476's Delta connector reads (a table with any other looks missing).
TRINO_READER_FEATURES = frozenset(
    {
        "columnMapping",
        "deletionVectors",
        "timestampNtz",
        "typeWidening",
        "vacuumProtocolCheck",
        "variantType",
        "v2Checkpoint",
    }
)


def zorder_problems(zorder: Sequence[str], columns: Sequence[str], partitions: Sequence[str]):
    """Why Z-ordering by `zorder` cannot work on a table with these columns (empty: it can)."""
    problems = [f"{c} is not a column" for c in zorder if c not in columns]
    problems += [f"{c} is a partition column" for c in zorder if c in partitions]
    return problems


def unreadable_by_trino(reader_version: int, reader_features: Iterable[str] | None) -> list[str]:
    """The reader features (or version) of a table Trino 476 cannot read (empty: readable)."""
    if reader_version > 3:
        return [f"minReaderVersion {reader_version}"]
    return sorted(set(reader_features or ()) - TRINO_READER_FEATURES)


# --- measuring tables ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Footprint:
    files: int
    bytes: int


def live_footprint(spark, path: Path) -> Footprint:
    """Files and bytes of the table's current version (what queries read)."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, str(path)).detail().collect()[0]
    return Footprint(int(row["numFiles"] or 0), int(row["sizeInBytes"] or 0))


def stored_footprint(spark, path: Path) -> Footprint:
    """Data files and bytes on storage, old versions' included (what VACUUM can shrink).

    Listed through Hadoop's FileSystem, so it works on s3a as on local disk.
    """
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(str(path))
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    files = size = 0
    listing = fs.listFiles(hpath, True)
    while listing.hasNext():
        status = listing.next()
        p = status.getPath().toString()
        name = p.rsplit("/", 1)[-1]
        # The log, and Hadoop's checksum side files, are not data.
        if f"/{DELTA_LOG}/" in p or name.startswith(("_", ".")) or name.endswith(".crc"):
            continue
        files += 1
        size += int(status.getLen())
    return Footprint(files, size)


def protocol(spark, path: Path) -> tuple[int, list[str]]:
    """(minReaderVersion, readerFeatures) of a table."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, str(path)).detail().collect()[0]
    fields = row.asDict()
    return int(fields.get("minReaderVersion") or 1), list(fields.get("readerFeatures") or [])


# --- operations ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MaintenanceRecord:
    """One row of ops.maintenance."""

    table_name: str
    operation: str
    started_at: dt.datetime
    duration_ms: int
    attempts: int
    before: Footprint
    after: Footprint
    params: dict[str, Any]
    metrics: dict[str, Any]

    def row(self, run_id: str) -> tuple:
        return (
            run_id,
            self.table_name,
            self.operation,
            self.started_at,
            self.duration_ms,
            self.attempts,
            self.before.files,
            self.after.files,
            self.before.bytes,
            self.after.bytes,
            json.dumps(self.params, sort_keys=True),
            json.dumps(self.metrics, sort_keys=True, default=str),
        )


def _plain(value: Any) -> Any:
    """A Row/struct of Delta's metrics as plain JSON-able values."""
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def optimize_table(
    spark,
    path: Path,
    settings: TableMaintenance,
    zorder: Sequence[str] | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> MaintenanceRecord:
    """Compact (and Z-order) one table; retried on conflicts with concurrent commits."""
    from delta.tables import DeltaTable

    cols = tuple(zorder) if zorder is not None else settings.zorder
    table = DeltaTable.forPath(spark, str(path))
    if cols:
        detail = table.detail().collect()[0]
        problems = zorder_problems(
            cols, table.toDF().columns, list(detail["partitionColumns"] or [])
        )
        if problems:
            raise GamelakeError(
                f"cannot Z-order {settings.name} by {', '.join(cols)}: {'; '.join(problems)}",
                fix="fix `zorder` in conf/maintenance.yaml or --zorder",
            )
    before = live_footprint(spark, path)
    started_at = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()

    def attempt():
        builder = DeltaTable.forPath(spark, str(path)).optimize()
        result = builder.executeZOrderBy(*cols) if cols else builder.executeCompaction()
        return result.collect()

    outcome = with_conflict_retry(attempt, f"optimize {settings.name}", backoff)
    metrics = _plain(outcome.value[0]["metrics"]) if outcome.value else {}
    return MaintenanceRecord(
        settings.name,
        "optimize",
        started_at,
        int((time.monotonic() - t0) * 1000),
        outcome.attempts,
        before,
        live_footprint(spark, path),
        {"zorder": list(cols)},
        metrics,
    )


def vacuum_table(
    spark, path: Path, name: str, retain_hours: float, backoff: Backoff = DEFAULT_BACKOFF
) -> MaintenanceRecord:
    """Delete the files no version within `retain_hours` needs (check_retention first)."""
    from delta.tables import DeltaTable

    before = stored_footprint(spark, path)
    started_at = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    # Delta's own guard would refuse what check_retention already let through with --force.
    short = retain_hours < DELTA_MIN_RETENTION_HOURS
    key = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(key, "true")
    if short:
        spark.conf.set(key, "false")
    try:
        outcome = with_conflict_retry(
            lambda: DeltaTable.forPath(spark, str(path)).vacuum(retain_hours),
            f"vacuum {name}",
            backoff,
        )
    finally:
        if short:
            spark.conf.set(key, previous)
    after = stored_footprint(spark, path)
    return MaintenanceRecord(
        name,
        "vacuum",
        started_at,
        int((time.monotonic() - t0) * 1000),
        outcome.attempts,
        before,
        after,
        {"retain_hours": retain_hours},
        {"files_deleted": before.files - after.files},
    )


def record_history(spark, lake: Path, run_id: str, records: Sequence[MaintenanceRecord]) -> None:
    """Append the run's records to ops.maintenance (at most once per run and record)."""
    from gamelake.io import write_delta_batch

    if not records:
        return
    df = spark.createDataFrame([r.row(run_id) for r in records], HISTORY_SCHEMA)
    # One commit per run: (txnAppId = run, version 0) makes a retried history write a no-op.
    write_delta_batch(
        df, table_path(lake, "ops", HISTORY_TABLE), (), f"gamelake.maintain.{run_id}", 0
    )


def format_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def summary_line(record: MaintenanceRecord) -> str:
    """One line an operator reads: table, operation, files and bytes before -> after."""
    retries = f", {record.attempts} attempts" if record.attempts > 1 else ""
    return (
        f"{record.operation} {record.table_name}: files {record.before.files} -> "
        f"{record.after.files}, bytes {format_bytes(record.before.bytes)} -> "
        f"{format_bytes(record.after.bytes)} in {record.duration_ms / 1000:.1f}s{retries}"
    )


# --- a run over tables --------------------------------------------------------------------------


def maintain_table(
    spark,
    path: Path,
    name: str,
    operation: str,
    conf: MaintenanceConf,
    zorder: Sequence[str] | None = None,
    retain_hours: float | None = None,
) -> MaintenanceRecord | None:
    """Optimize or vacuum one table per its settings; None when there is nothing to compact."""
    if operation == "vacuum":
        return vacuum_table(spark, path, name, conf.retain_hours(name, retain_hours), conf.backoff)
    settings = conf.for_table(name)
    if not settings.optimize and zorder is None:
        log.info("%s: optimize is off in conf/maintenance.yaml", name)
        return None
    if live_footprint(spark, path).files < settings.min_files:
        log.info("%s: fewer than %d files, nothing to compact", name, settings.min_files)
        return None
    return optimize_table(spark, path, settings, zorder, conf.backoff)


def check_readable(spark, path: Path, name: str, before: tuple[int, list[str]]) -> None:
    """Refuse to go on when maintenance changed a table's protocol to one Trino cannot read."""
    after = protocol(spark, path)
    blocked = unreadable_by_trino(*after) if after != before else []
    if blocked:
        raise GamelakeError(
            f"{name} now needs reader features Trino 476 lacks: {blocked}",
            fix="check spark.databricks.delta.properties.defaults.* in the Spark conf",
        )


def _print_now(line: str) -> None:
    print(line, flush=True)


def maintain_tables(
    spark,
    lake: Path,
    names: Sequence[str],
    operation: str,
    conf: MaintenanceConf,
    zorder: Sequence[str] | None = None,
    retain_hours: float | None = None,
    report: Callable[[str], None] | None = None,
) -> tuple[str, list[MaintenanceRecord]]:
    """Optimize or vacuum the tables one by one, reporting a summary line each; returns the
    run id and its records, appended to ops.maintenance even when a table fails."""
    run_id = new_run_id()
    records: list[MaintenanceRecord] = []
    try:
        for i, name in enumerate(names, 1):
            path = table_path(lake, *name.split("."))
            log.info("[%d/%d] %s %s", i, len(names), operation, name)
            before = protocol(spark, path)
            record = maintain_table(spark, path, name, operation, conf, zorder, retain_hours)
            if record is None:
                continue
            records.append(record)
            (report or _print_now)(summary_line(record))
            # Maintenance must never leave a table Trino cannot read.
            check_readable(spark, path, name, before)
    finally:
        record_history(spark, lake, run_id, records)
    return run_id, records

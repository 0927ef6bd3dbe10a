"""Exactly-once appends of micro-batches without Delta rebuilding table state on every commit.

Delta's own idempotent write (`txnAppId`/`txnVersion`) reads the table's SetTransactions,
and Delta 4.4 computes the whole snapshot state to do so: 3-4 Spark jobs and 0.5-1 s more per
commit, on every commit (the .crc holds them but no release reads them from there). A
micro-batch handler is the only writer of its app id, so what it has committed only needs
reading once: kafka-delta-ingest keeps its txn versions in memory the same way.

Each append carries its (app id, batch id) in the commit's `userMetadata`, atomically with
its rows. `BatchLedger` answers "does this table already hold batch N of this app?" from the
table's `_delta_log` the first time it is asked about a table (newest commit first, stopping
at the app's own latest commit or at commits older than the app), then from memory as the
handler commits. Commits written by Delta's `txn` scheme (lakes from before) count too.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from pyspark.sql import DataFrame

from gamelake import lakefs
from gamelake.conventions import DELTA_LOG, is_delta_table
from gamelake.io import delta_append

log = logging.getLogger(__name__)

BATCH_KEY = "gamelake.batch"
_COMMIT_FILE = re.compile(r"^(\d{20})\.json$")
_CHECKSUM_FILE = re.compile(r"^(\d{20})\.crc$")
# Commits this much older than the app's birth cannot be the app's (clock steps, slow starts).
_BIRTH_MARGIN_MS = 60_000


def batch_tag(app_id: str, batch_id: int) -> str:
    """The commitInfo.userMetadata naming the micro-batch a commit appends."""
    return json.dumps({BATCH_KEY: {"app": app_id, "batch": batch_id}}, separators=(",", ":"))


def _tagged_batch(user_metadata: object, app_id: str) -> int | None:
    """The batch id a commit's userMetadata names for `app_id`, else None."""
    if not isinstance(user_metadata, str) or BATCH_KEY not in user_metadata:
        return None
    try:
        tag = json.loads(user_metadata).get(BATCH_KEY) or {}
    except (ValueError, AttributeError):
        return None
    return int(tag["batch"]) if tag.get("app") == app_id and "batch" in tag else None


def commit_versions(table: Path) -> list[int]:
    """The versions of the Delta table's commit files still in its log, oldest first
    (empty for a path that is no Delta table). Delta keeps the newest through log clean-up."""
    names = lakefs.list_names(table / DELTA_LOG)
    return sorted(int(m.group(1)) for name in names if (m := _COMMIT_FILE.match(name)))


def _commits_newest_first(table: Path) -> Iterator[tuple[int, Path]]:
    for version in reversed(commit_versions(table)):
        yield version, table / DELTA_LOG / f"{version:020d}.json"


def _commit_batch(commit: Path, app_id: str) -> tuple[int | None, int | None]:
    """(batch of `app_id` this commit appended or None, the commit's timestamp in ms)."""
    found, timestamp = None, None
    with lakefs.open_text(commit) as lines:
        for line in lines:
            # commitInfo comes first and txn right after; data actions need no parsing.
            if line.startswith('{"commitInfo"'):
                info = json.loads(line)["commitInfo"]
                timestamp = info.get("inCommitTimestamp") or info.get("timestamp")
                tagged = _tagged_batch(info.get("userMetadata"), app_id)
                found = tagged if tagged is not None else found
            elif line.startswith('{"txn"'):
                txn = json.loads(line)["txn"]
                if txn.get("appId") == app_id:
                    found = int(txn["version"])
            elif not line.startswith(('{"protocol"', '{"metaData"')):
                break
    return found, timestamp


def tagged_version(table: Path, user_metadata: str, since: int = 0) -> int | None:
    """The version of the table's commit, at or after `since`, whose commitInfo.userMetadata
    is `user_metadata` (None when the log holds no such commit)."""
    for version, commit in _commits_newest_first(table):
        if version < since:
            break
        with lakefs.open_text(commit) as lines:
            first = next(iter(lines), "")  # commitInfo comes first
        info = json.loads(first).get("commitInfo", {}) if first.startswith("{") else {}
        if info.get("userMetadata") == user_metadata:
            return version
    return None


def _checksum_txn(log_dir: Path, app_id: str) -> int | None:
    """The app's version among the SetTransactions of the newest .crc (Delta's txn scheme)."""
    versions = [
        int(m.group(1)) for n in lakefs.list_names(log_dir) if (m := _CHECKSUM_FILE.match(n))
    ]
    if not versions:
        return None
    state = json.loads(lakefs.read_text(log_dir / f"{max(versions):020d}.crc"))
    for txn in state.get("setTransactions") or ():
        if txn.get("appId") == app_id:
            return int(txn["version"])
    return None


def last_committed_batch(table: Path, app_id: str, born_ms: int | None = None) -> int:
    """The highest batch id of `app_id` the Delta table at `table` holds (-1: none).

    Reads commits newest first and stops at the first that names the app (a handler commits
    its batches in order) or, given the app's birth time, at commits older than the app.
    """
    if not is_delta_table(table):
        return -1
    for read, (_version, commit) in enumerate(_commits_newest_first(table), start=1):
        try:
            batch, timestamp = _commit_batch(commit, app_id)
        except FileNotFoundError:  # removed by log cleanup while we read: older than kept
            break
        if born_ms is not None and timestamp is not None and timestamp < born_ms - _BIRTH_MARGIN_MS:
            return -1  # older than the app: neither this commit nor any before it is its
        if batch is not None:
            log.debug("%s: app %s last committed batch %d (%d commits read)", table, app_id,
                      batch, read)  # fmt: skip
            return batch
    found = _checksum_txn(table / DELTA_LOG, app_id)
    return -1 if found is None else found


class BatchLedger:
    """The last micro-batch each table holds for each app id: read from the table's log once,
    then kept as this process commits. One writer per app id (a streaming query's handler)."""

    def __init__(self, born_ms: int | None = None) -> None:
        self.born_ms = born_ms
        self._last: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def last(self, table: Path, app_id: str) -> int:
        """The highest batch of `app_id` that `table` holds (-1: none)."""
        key = (str(table), app_id)
        with self._lock:
            if key not in self._last:
                self._last[key] = last_committed_batch(table, app_id, self.born_ms)
            return self._last[key]

    def holds(self, table: Path, app_id: str, batch_id: int) -> bool:
        """True when `table` already holds batch `batch_id` of `app_id`."""
        return batch_id <= self.last(table, app_id)

    def committed(self, table: Path, app_id: str, batch_id: int) -> None:
        with self._lock:
            key = (str(table), app_id)
            self._last[key] = max(batch_id, self._last.get(key, -1))


def append_batch(
    df: DataFrame,
    table: Path,
    partition_by: Sequence[str],
    app_id: str,
    batch_id: int,
    ledger: BatchLedger,
    *,
    optimize_write: bool = True,
    properties: Mapping[str, str] | None = None,
) -> bool:
    """Append a micro-batch to a Delta table unless it already holds it; True when written.

    A replay after a crash skips the tables its first attempt committed, so no row is
    doubled; the batch id travels in the commit itself, so no row is lost either.
    `optimize_write` False skips Delta's shuffle into well-sized files, which only pays when
    `df` has several partitions: one task already writes one file per partition value.
    `properties` (`delta.*` table properties) apply when the append creates the table.
    """
    if ledger.holds(table, app_id, batch_id):
        log.info("%s already holds batch %d of %s: skipped", table.name, batch_id, app_id)
        return False
    tag = batch_tag(app_id, batch_id)
    optimize = str(optimize_write).lower()
    delta_append(
        df, partition_by, userMetadata=tag, optimizeWrite=optimize, **(properties or {})
    ).save(str(table))
    ledger.committed(table, app_id, batch_id)
    return True
